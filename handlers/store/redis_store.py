"""The Redis store: the same `transact` as the TinyDB store, shared by many workers and hosts.

Keys, under a prefix (`--store-prefix`, default `cancelgate`):
  <p>:doc:<table>:<key>   one JSON document
  <p>:ids:<table>         the set of keys of a table (scans)
  <p>:gen:<table>         a counter bumped by every write to the table
  <p>:tables              the set of tables that exist
  <p>:ix:<table>:<index>:<group>   an index group (indexes.py): a sorted set of members, all
                          scored 0 so they order bytewise, as the TinyDB store orders them
  <p>:ixg:<table>:<index> the groups an index has had; <p>:ixv which indexes were built
  <p>:version, :clock, :lease:<name>, :journal, :loaded   bookkeeping

Transactions are optimistic. A transaction reads documents with plain GETs and WATCHes only
what its commit cannot check itself: a table's generation counter when it scans the table, and
the index groups it reads. Its writes go out as one script in one MULTI/EXEC; the script first
checks that every document read is still what was read (by its SHA-1) and writes nothing if one
is not, and EXEC does nothing if a WATCHed key changed. Either way the function runs again from
the start on fresh data, so the rules see a serial world on every backend. A transaction that
reads only documents and writes nothing is a GET per document and nothing else.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
from typing import Callable, Iterator, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from cancelgate.store import bridge
from cancelgate.store.indexes import TOP, member
from cancelgate.store.overlay import OverlayTable, TxIndexes
from cancelgate.store.protocol import Doc, Fixtures, StoreUnavailable, status_of, touched_keys
from cancelgate.store.redis_journal import JournalWriter
from cancelgate.store.redis_link import Link

T = TypeVar("T")
log = logging.getLogger("cancelgate.store")
MAX_ATTEMPTS = 200
COMMIT_KEY_TTL_MS = 60 * 1000   # far longer than a dropped reply takes to notice


def _unavailable_when_unreachable(method):
    """Redis unreachable is StoreUnavailable (a 503 in the family's wire), never a crash."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StoreUnavailable(f"Redis is unreachable ({error})") from None
    return wrapper


def _pause_after_conflict(attempt: int) -> None:
    """A random pause growing with the attempts, so conflicting writers fall out of step (inside
    a bridge run the loop serves others meanwhile)."""
    bridge.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))


class StoreBusy(StoreUnavailable):
    """A transaction kept conflicting with others and gave up."""


class RedisTx:
    def __init__(self, link, prefix: str, indexes: dict | None = None):
        """`link`: where commands go (redis_link.Link, or a pipeline's `execute_command`
        through `_OnPipeline`)."""
        self.link = link
        self.prefix = prefix
        self.writes: dict[str, dict[str, Doc | None]] = {}
        self.deltas: dict[str, TxIndexes] = {}
        self._indexes = indexes or {}
        self._watched: set[str] = set()
        self._watch_drops = 0
        self._raw: dict[str, bytes | None] = {}

    def watch(self, key: str) -> None:
        """WATCH a key the commit cannot check itself (an index group, a table's generation).
        The WATCHes live on the connection: the commit is sent only on the connection they were
        made on (`watching`), else the transaction runs again."""
        if key not in self._watched:
            self.link.call("WATCH", key)
            if not self._watched:
                self._watch_drops = self.link.drops()
            self._watched.add(key)

    def watching(self) -> int | None:
        return self._watch_drops if self._watched else None

    def read(self, doc_key: str) -> Doc | None:
        """A committed document, fetched once per transaction. It is not WATCHed: the commit
        script finds it unchanged or the transaction runs again (`checks`)."""
        if doc_key not in self._raw:
            self._raw[doc_key] = self.link.call("GET", doc_key)
        raw = self._raw[doc_key]
        return None if raw is None else json.loads(raw)

    def checks(self) -> list[str]:
        """Each document read, and the SHA-1 of what was read ('' when there was none): the
        commit script writes nothing unless every one is still what was read."""
        found = []
        for doc_key, raw in self._raw.items():
            found += (doc_key, "" if raw is None else hashlib.sha1(raw).hexdigest())
        return found

    def table(self, kind: str, shared: bool = False) -> "RedisTable":
        """Every read is parsed from Redis, so `shared` changes nothing here."""
        delta = self.deltas.get(kind)
        if delta is None and kind in self._indexes:
            delta = self.deltas[kind] = TxIndexes(self._indexes[kind], _StoredIndexes(self, kind, self._indexes[kind]))
        return RedisTable(self, kind, self.writes.setdefault(kind, {}), delta)


class _OnPipeline:
    """A redis-py pipeline as a RedisTx's link (`_rebuild_indexes` WATCHes and EXECs with it)."""

    def __init__(self, pipe):
        self.call = pipe.execute_command

    @staticmethod
    def drops() -> int:
        return 0       # redis-py raises WatchError itself when a watching pipeline's connection drops


# Deletes a namespace's documents, id sets and index groups (ARGV: the prefix, then each
# indexed `<table>:<index>`), bumping each table's generation: the first step of a reset.
_WIPE = """
local p = ARGV[1]
for _, t in ipairs(redis.call('SMEMBERS', p .. ':tables')) do
  for _, id in ipairs(redis.call('SMEMBERS', p .. ':ids:' .. t)) do
    redis.call('DEL', p .. ':doc:' .. t .. ':' .. id)
  end
  redis.call('DEL', p .. ':ids:' .. t)
  redis.call('INCR', p .. ':gen:' .. t)
end
redis.call('DEL', p .. ':tables')
for i = 2, #ARGV do
  for _, g in ipairs(redis.call('SMEMBERS', p .. ':ixg:' .. ARGV[i])) do
    redis.call('DEL', p .. ':ix:' .. ARGV[i] .. ':' .. g)
  end
  redis.call('DEL', p .. ':ixg:' .. ARGV[i])
end
return 1
"""


# A transaction's writes (RedisStore._commit), run inside its MULTI so its WATCHes still decide.
# ARGV: prefix, commit key, its TTL in ms, the number of documents read, each (key, SHA-1 of
# what was read or ''), the number of writes, each write ("S", table, key, JSON) or ("D",
# table, key), the number of index moves, each (table, index, has old, old group, old member,
# has new, new group, new member). Answers 0, having written nothing, if a document read has
# changed since.
_COMMIT = """
local p = ARGV[1]
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local now = redis.call('GET', ARGV[i])
  if (now and redis.sha1hex(now) or '') ~= ARGV[i + 1] then
    return 0
  end
  i = i + 2
end
local writes = tonumber(ARGV[i])
i = i + 1
local bumped = {}
for _ = 1, writes do
  local op, kind, key = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local doc = p .. ':doc:' .. kind .. ':' .. key
  if op == 'D' then
    redis.call('DEL', doc)
    redis.call('SREM', p .. ':ids:' .. kind, key)
    i = i + 3
  else
    redis.call('SET', doc, ARGV[i + 3])
    redis.call('SADD', p .. ':ids:' .. kind, key)
    redis.call('SADD', p .. ':tables', kind)
    i = i + 4
  end
  if not bumped[kind] then
    bumped[kind] = true
    redis.call('INCR', p .. ':gen:' .. kind)
  end
end
local moves = tonumber(ARGV[i])
i = i + 1
for _ = 1, moves do
  local index = p .. ':ix:' .. ARGV[i] .. ':' .. ARGV[i + 1] .. ':'
  if ARGV[i + 2] == '1' then
    redis.call('ZREM', index .. ARGV[i + 3], ARGV[i + 4])
  end
  if ARGV[i + 5] == '1' then
    redis.call('ZADD', index .. ARGV[i + 6], 0, ARGV[i + 7])
    redis.call('SADD', p .. ':ixg:' .. ARGV[i] .. ':' .. ARGV[i + 1], ARGV[i + 6])
  end
  i = i + 8
end
redis.call('INCR', p .. ':version')
redis.call('SET', ARGV[2], 1, 'PX', ARGV[3])
return 1
"""


def _group_key(prefix: str, kind: str, name: str, group: str) -> str:
    return f"{prefix}:ix:{kind}:{name}:{group}"


class _StoredIndexes:
    """A table's committed indexes as one transaction reads them: sorted sets, WATCHed."""

    CHUNK = 500

    def __init__(self, tx: RedisTx, kind: str, specs):
        self._tx = tx
        self._kind = kind
        self._specs = {index.name: index for index in specs}

    def _key(self, name: str, group: str) -> str:
        return _group_key(self._tx.prefix, self._kind, name, group)

    def entry(self, name: str, key: str):
        doc = self._tx.read(f"{self._tx.prefix}:doc:{self._kind}:{key}")
        return None if doc is None else self._specs[name].entry(doc)

    def ordered(self, name: str, group: str, upto: str | None) -> Iterator[str]:
        key = self._key(name, group)
        self._tx.watch(key)
        high = "+" if upto is None else "(" + upto + TOP
        low = "-"
        while True:   # by a cursor (after the last member seen), not by offset
            chunk = [m.decode() for m in self._tx.link.call("ZRANGEBYLEX", key, low, high, "LIMIT", 0, self.CHUNK)]
            yield from chunk
            if len(chunk) < self.CHUNK:
                return
            low = "(" + chunk[-1]

    def size(self, name: str, group: str) -> int:
        key = self._key(name, group)
        self._tx.watch(key)
        return self._tx.link.call("ZCARD", key)

    def groups(self, name: str) -> list[str]:
        key = f"{self._tx.prefix}:ixg:{self._kind}:{name}"
        self._tx.watch(key)
        return sorted(g.decode() for g in self._tx.link.call("SMEMBERS", key))


class RedisTable(OverlayTable):
    def __init__(self, tx: RedisTx, kind: str, writes: dict[str, Doc | None], indexes: TxIndexes | None = None):
        super().__init__(writes, indexes)
        self._tx = tx
        self._kind = kind

    def _doc_key(self, key: str) -> str:
        return f"{self._tx.prefix}:doc:{self._kind}:{key}"

    def _read(self, key: str) -> Doc | None:
        return self._tx.read(self._doc_key(key))

    def _scan(self) -> Iterator[tuple[str, Doc]]:
        self._tx.watch(f"{self._tx.prefix}:gen:{self._kind}")
        keys = sorted(k.decode() for k in self._tx.link.call("SMEMBERS", f"{self._tx.prefix}:ids:{self._kind}"))
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            for key, raw in zip(chunk, self._tx.link.call("MGET", *(self._doc_key(k) for k in chunk)), strict=True):
                if raw is not None:
                    yield key, json.loads(raw)


def ping(url: str) -> None:
    """Whether Redis answers at `url`, touching nothing (the first worker still loads the fixtures)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise ConnectionError(f"cannot reach Redis at {url}: {error}") from None
    finally:
        client.close()


class RedisStore:
    """Shared state in Redis. `url` is redis://host:port/db."""

    # Every call is a network round trip (and a conflict's retry sleeps): the web layer runs
    # them in store/bridge.py's runs, each wait awaited on the loop (web/dispatch.py's Offload);
    # threads (the scheduler's) each send on a connection of their own (redis_link.py).
    blocking = True

    def __init__(self, url: str, fixtures: Fixtures | None = None, prefix: str = "cancelgate",
                 indexes: dict | None = None, clock_start: int | None = None):
        """`clock_start`: the manual clock's time the fixtures' clocks started at; the worker
        that loads them sets the shared clock to it, whichever worker's clock came first."""
        # single commands are retried on a new connection (a dropped one is not an outage);
        # transactions never are: a lost EXEC reply is settled by its commit key instead
        timeouts = {"socket_timeout": 5, "socket_connect_timeout": 2}
        self.client = redis.Redis.from_url(url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.01), 3),
                                           retry_on_error=[redis.ConnectionError, redis.TimeoutError], **timeouts)
        self._link = Link(self.client.connection_pool, url, **timeouts)   # transactions' commands
        self.prefix = prefix
        self._indexes = {kind: list(specs) for kind, specs in (indexes or {}).items()}
        self._journal = JournalWriter(self._link, f"{prefix}:journal")
        try:
            self.client.ping()
        except redis.ConnectionError as error:
            raise ConnectionError(f"cannot reach Redis at {url}: {error}") from None
        # the first worker to arrive loads the fixtures; a restart keeps what is there, and
        # builds the indexes once if they were built for other ones (or by an older server)
        if self.client.set(f"{prefix}:loaded", "1", nx=True):
            if clock_start is not None:
                self.client.set(f"{prefix}:clock", clock_start)
            self._load(fixtures or {})
        else:
            self._rebuild_indexes()

    def _index_signature(self) -> str:
        return json.dumps({kind: [index.name for index in specs] for kind, specs in sorted(self._indexes.items())})

    def _rebuild_indexes(self) -> None:
        """Build the indexes of state kept over a restart when they were built for other ones
        (or by an older server). Only index keys are written, in one MULTI that fails if any
        table changed meanwhile (then it looks again: another worker may have done it)."""
        signature = self._index_signature()
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.client.pipeline() as pipe:
                    pipe.watch(f"{self.prefix}:ixv", f"{self.prefix}:tables",
                               *(f"{self.prefix}:gen:{kind}" for kind in self._indexes),
                               *(f"{self.prefix}:ixg:{kind}:{index.name}"
                                 for kind, specs in self._indexes.items() for index in specs))
                    if pipe.get(f"{self.prefix}:ixv") == signature.encode():
                        return
                    tx = RedisTx(_OnPipeline(pipe), self.prefix)
                    docs = {kind: dict(tx.table(kind).items()) for kind in self._indexes}
                    groups = {(kind, index.name): [g.decode() for g in
                                                   pipe.smembers(f"{self.prefix}:ixg:{kind}:{index.name}")]
                              for kind, specs in self._indexes.items() for index in specs}
                    pipe.multi()
                    for (kind, name), old in groups.items():
                        pipe.delete(f"{self.prefix}:ixg:{kind}:{name}",
                                    *(_group_key(self.prefix, kind, name, g) for g in old))
                    self._queue_index_entries(pipe, docs)
                    pipe.set(f"{self.prefix}:ixv", signature)
                    pipe.execute()
                    return
            except redis.WatchError:
                _pause_after_conflict(attempt)
        raise StoreBusy(f"rebuilding the indexes conflicted {MAX_ATTEMPTS} times in a row")

    def _queue_index_entries(self, pipe, docs: Fixtures) -> None:
        for kind, specs in self._indexes.items():
            for index in specs:
                for key, doc in (docs.get(kind) or {}).items():
                    if (entry := index.entry(doc)) is not None:
                        pipe.zadd(_group_key(self.prefix, kind, index.name, entry[0]), {member(entry, key): 0})
                        pipe.sadd(f"{self.prefix}:ixg:{kind}:{index.name}", entry[0])

    # --- the store interface -----------------------------------------------------------------

    def transact(self, fn: Callable[[RedisTx], T]) -> T:
        """Run `fn` on fresh data until its writes commit. Each commit also writes a unique
        commit key: when the connection drops after EXEC was sent, the key says whether it
        landed, so a committed transaction is answered as committed and never run a second
        time. A connection lost while `fn` reads is a conflict like any other: `fn` runs again
        on a new connection, and Redis is unreachable only if there is none."""
        link = self._link
        lost = False
        for attempt in range(MAX_ATTEMPTS):
            tx = RedisTx(link, self.prefix, self._indexes)
            commit = None
            sent = False
            try:
                try:
                    result = fn(tx)
                except (redis.ConnectionError, redis.TimeoutError) as error:
                    tx._watched.clear()   # the connection has closed, and its WATCHes with it
                    if lost:              # and a new one failed too
                        raise StoreUnavailable(f"Redis is unreachable ({error}); nothing was changed") from None
                    lost = True
                    continue
                lost = False
                changes = [(kind, key, doc) for kind, docs in tx.writes.items() for key, doc in docs.items()]
                if not changes:
                    return result
                # unique enough among commits living a minute (random, not os.urandom: no system call)
                commit = f"{self.prefix}:commit:{random.getrandbits(128):032x}"
                sent = True
                try:
                    committed = self._commit(link, tx, commit, changes)
                except redis.WatchError:  # nothing was sent: the WATCHes were lost with their connection
                    committed = False
                tx._watched.clear()       # EXEC ends every WATCH, whatever it answered
            except (redis.ConnectionError, redis.TimeoutError) as error:
                tx._watched.clear()
                if not (sent and self._landed(commit)):
                    raise StoreUnavailable(f"Redis is unreachable ({error}); nothing was changed") from None
                committed = True
            finally:
                if tx._watched:           # read only, or `fn` raised: the connection is used again
                    self._unwatch(link)
            if not committed:
                _pause_after_conflict(attempt)
                continue
            record = touched_keys.get()
            if record is not None:
                record.extend((kind, key, status_of(doc)) for kind, key, doc in changes)
            return result
        raise StoreBusy(f"a transaction conflicted {MAX_ATTEMPTS} times in a row")

    @staticmethod
    def _unwatch(link: Link) -> None:
        try:
            link.call("UNWATCH")
        except (redis.ConnectionError, redis.TimeoutError):
            pass                          # a closed connection watches nothing

    def _landed(self, commit: str) -> bool:
        """Whether a transaction whose EXEC reply was lost committed (asked on a new connection)."""
        for pause in (0, 0.05, 0.2, 0.5):
            bridge.sleep(pause)
            try:
                return bool(self._link.call("EXISTS", commit))
            except (redis.ConnectionError, redis.TimeoutError):
                continue
        raise StoreUnavailable("Redis is unreachable; whether the last change was kept is unknown")

    def _commit(self, link: Link, tx: RedisTx, commit: str, changes: list) -> bool:
        """The writes as one script (`_COMMIT`) in one MULTI/EXEC, sent and answered in one round
        trip; False if a document read or a WATCHed key had changed (nothing was written)."""
        args = [self.prefix, commit, COMMIT_KEY_TTL_MS]
        checks = tx.checks()
        args += (len(checks) // 2, *checks, len(changes))
        for kind, key, doc in changes:
            if doc is None:
                args += ("D", kind, key)
            else:
                args += ("S", kind, key, json.dumps(doc, separators=(",", ":")))
        moves = []
        for kind, delta in tx.deltas.items():
            for name, own in delta.own.items():
                before = delta.before[name]
                for key, new in own.items():
                    old = before[key]
                    if old != new:
                        moves += (kind, name, *(("1", old[0], member(old, key)) if old is not None else ("0", "", "")),
                                  *(("1", new[0], member(new, key)) if new is not None else ("0", "", "")))
        args.append(len(moves) // 8)
        args += moves
        replies = link.send([("MULTI",), ("EVAL", _COMMIT, 0, *args), ("EXEC",)], watching=tx.watching())
        queued, done = replies[1], replies[2]
        if isinstance(queued, redis.ResponseError):
            raise queued                  # so EXEC refused the whole transaction: nothing ran
        if isinstance(done, redis.ResponseError):
            raise done
        if done is None:                  # a WATCHed key changed: EXEC ran nothing
            return False
        if isinstance(done[0], redis.ResponseError):
            raise done[0]
        return done[0] == 1

    def _queue_writes(self, pipe, changes: list) -> None:
        """Documents written command by command: a reset's fixtures, in the reset's own MULTI."""
        for kind, key, doc in changes:
            doc_key = f"{self.prefix}:doc:{kind}:{key}"
            if doc is None:
                pipe.delete(doc_key)
                pipe.srem(f"{self.prefix}:ids:{kind}", key)
            else:
                pipe.set(doc_key, json.dumps(doc, separators=(",", ":")))
                pipe.sadd(f"{self.prefix}:ids:{kind}", key)
                pipe.sadd(f"{self.prefix}:tables", kind)
        for kind in {kind for kind, _, _ in changes}:
            pipe.incr(f"{self.prefix}:gen:{kind}")

    def _load(self, fixtures: Fixtures) -> None:
        """Replace the namespace's documents in one MULTI: a script first deletes every document
        the id sets name, the id sets and the indexes, then the fixtures are written. The
        script reads what to delete inside the transaction, so no write can land in between
        and leave a document behind that no id set names, and a reset never waits for a quiet
        moment (with WATCH, a steady stream of writes could keep it retrying for ever)."""
        groups = [f"{kind}:{index.name}" for kind, specs in self._indexes.items() for index in specs]
        with self.client.pipeline() as pipe:
            pipe.eval(_WIPE, 0, self.prefix, *groups)
            changes = [(kind, key, doc) for kind, docs in fixtures.items() for key, doc in docs.items()]
            self._queue_writes(pipe, changes)
            self._queue_index_entries(pipe, fixtures)
            pipe.set(f"{self.prefix}:ixv", self._index_signature())
            pipe.incr(f"{self.prefix}:version")
            pipe.execute()

    @_unavailable_when_unreachable
    def reset(self, fixtures: Fixtures | None) -> None:
        bridge.blocking(self._load, fixtures or {})   # one MULTI of every fixture: its own thread

    @_unavailable_when_unreachable
    def count(self, kind: str) -> int:
        return self._link.read("SCARD", f"{self.prefix}:ids:{kind}")

    @_unavailable_when_unreachable
    def counts(self) -> dict[str, int]:
        kinds = sorted(t.decode() for t in self._link.read("SMEMBERS", f"{self.prefix}:tables"))
        return {kind: n for kind in kinds if (n := self.count(kind))}

    @property
    @_unavailable_when_unreachable
    def version(self) -> int:
        return int(self._link.read("GET", f"{self.prefix}:version") or 0)

    def close(self) -> None:
        self._journal.close()
        self.client.close()

    async def aclose(self) -> None:
        """Before the event loop stops: let its journal task write what is queued, then close
        the connections the loop used (they belong to it)."""
        await self._journal.drain()
        await self._link.close()

    # --- what must be global across workers ------------------------------------------------

    @_unavailable_when_unreachable
    def get_clock(self) -> int | None:
        value = self._link.read("GET", f"{self.prefix}:clock")
        return None if value is None else int(value)

    @_unavailable_when_unreachable
    def set_clock(self, ms: int) -> None:
        self._link.read("SET", f"{self.prefix}:clock", ms)

    @_unavailable_when_unreachable
    def init_clock(self, ms: int) -> None:
        self._link.read("SET", f"{self.prefix}:clock", ms, "NX")

    @_unavailable_when_unreachable
    def hold_lease(self, name: str, holder: str, ttl_ms: int) -> bool:
        """Take or renew a lease that expires unless renewed: one scheduler across all workers."""
        key = f"{self.prefix}:lease:{name}"
        if self._link.read("SET", key, holder, "NX", "PX", ttl_ms):
            return True
        if self._link.read("GET", key) == holder.encode():
            self._link.read("PEXPIRE", key, ttl_ms)
            return True
        return False

    def journal_append(self, entry: dict, size: int) -> None:
        """Queued for this worker's journal writer (redis_journal.py): it never waits on Redis."""
        self._journal.append(entry, size)

    @_unavailable_when_unreachable
    def journal_entries(self) -> list[dict]:
        bridge.blocking(self._journal.flush)
        return [json.loads(raw) for raw in self._link.read("LRANGE", f"{self.prefix}:journal", 0, -1)]

    @_unavailable_when_unreachable
    def journal_clear(self) -> None:
        bridge.blocking(self._journal.discard)
        self._link.read("DEL", f"{self.prefix}:journal")

    def durability_warning(self) -> str | None:
        """Why this Redis cannot promise that nothing acknowledged is lost, or None if it can."""
        try:
            appendonly = self.client.config_get("appendonly").get("appendonly")
            appendfsync = self.client.config_get("appendfsync").get("appendfsync")
        except redis.ResponseError:
            return "CONFIG is disabled on this Redis, so its persistence settings cannot be checked"
        if appendonly != "yes":
            return "appendonly is off: a crash of Redis loses every change since its last snapshot"
        if appendfsync != "always":
            return (f"appendfsync is {appendfsync}: a crash of the Redis host can lose about the last second "
                    "of acknowledged changes (set appendfsync always to lose none)")
        return None
