"""The only code that touches TinyDB: every read and every change of state goes through here.

State is a set of tables ("kinds"), each a mapping of key -> JSON document. Callers never
write directly: they run a function inside `transact`, read and write through the `Tx` it is
given, and the store applies all of its writes at once or none of them (a rule that raises
leaves nothing behind). A Redis backend offers the same `transact` with optimistic retries.

Durability with a file (`--db PATH`): the live data is TinyDB on a memory storage, so a lookup
is one dict access whatever the size. Every committed transaction is appended to
`PATH.journal` as one JSON line and fsynced before `transact` returns, so nothing that was
answered with success is lost. The journal is folded into `PATH` (a plain TinyDB JSON file,
written to a temporary file, fsynced and renamed over the old one) at start and at shutdown,
and every `COMPACT_EVERY` transactions in a background thread (see `_Journal`). A crash at any
instant leaves the last snapshot intact and journals whose only possibly torn line is a
transaction that was never acknowledged.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from tinydb import TinyDB
from tinydb.storages import JSONStorage, MemoryStorage
from tinydb.table import Table

T = TypeVar("T")
Doc = dict[str, Any]
Fixtures = dict[str, dict[str, Doc]]

COMPACT_EVERY = 5000            # at least; never more often than once per stored document
SNAPSHOT_SYNC_BYTES = 4 << 20

# Set by whoever wants to know which (table, key) pairs the current task's transactions wrote
# (the request journal); None, the default, records nothing.
touched_keys: ContextVar[list | None] = ContextVar("touched_keys", default=None)


class StoreLocked(RuntimeError):
    """Another process already serves this database file."""


class _KeyedTable(Table):
    """A TinyDB table keyed by our own string ids, changed in place.

    TinyDB's stock `_update_table` copies the whole table on every write; on a memory storage the
    in-place update below keeps a write O(1) however many jobs there are.
    """

    document_id_class = str

    def _update_table(self, updater):
        tables = self._storage.read() or {}
        updater(tables.setdefault(self.name, {}))
        self._storage.write(tables)
        self.clear_cache()

    def put(self, key: str, doc: Doc) -> None:
        self._update_table(lambda table: table.__setitem__(key, doc))

    def drop(self, key: str) -> None:
        self._update_table(lambda table: table.pop(key, None))


class OverlayTable:
    """One table as a transaction sees it: the stored documents with this transaction's writes
    laid over them. Backends supply `_read(key)` and `_scan()` (each stored document once)."""

    def __init__(self, writes: dict[str, Doc | None]):
        self._writes = writes

    def _read(self, key: str) -> Doc | None:
        raise NotImplementedError

    def _scan(self) -> Iterator[tuple[str, Doc]]:
        raise NotImplementedError

    def get(self, key: str, default: Any = None) -> Doc | None:
        doc = self._writes[key] if key in self._writes else self._read(key)
        return default if doc is None else doc

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key: str, doc: Doc) -> None:
        self._writes[key] = doc

    def pop(self, key: str, default: Any = None) -> Doc | None:
        doc = self.get(key, default)
        self._writes[key] = None
        return doc

    def values(self) -> Iterator[Doc]:
        """Every document; scans are hot, so treat nested values as read-only."""
        for key, doc in self._scan():
            if key not in self._writes:
                yield doc
        yield from (doc for doc in self._writes.values() if doc is not None)


class TxTable(OverlayTable):
    def __init__(self, table: _KeyedTable, writes: dict[str, Doc | None]):
        super().__init__(writes)
        self._table = table

    def _read(self, key: str) -> Doc | None:
        found = self._table.get(doc_id=key)
        return None if found is None else copy.deepcopy(dict(found))

    def _scan(self) -> Iterator[tuple[str, Doc]]:
        for found in self._table:
            yield found.doc_id, dict(found)  # shallow: see values()


class Tx:
    """What a function run by `Store.transact` reads and writes through."""

    def __init__(self, db: TinyDB):
        self._db = db
        self.writes: dict[str, dict[str, Doc | None]] = {}

    def table(self, kind: str) -> TxTable:
        return TxTable(self._db.table(kind), self.writes.setdefault(kind, {}))


class _Journal:
    """The append-only change log beside a TinyDB snapshot file, and the lock on both.

    Compaction runs in the background: under the store's lock the journal is rotated to
    `PATH.journal.old` and the tables are copied (shallow: stored documents are never changed in
    place, only replaced); a thread then writes the snapshot and removes the old journal. Until it
    has, recovery replays the old journal and then the new one over the last snapshot, which
    gives the same state whichever step a crash interrupted.
    """

    def __init__(self, path: Path):
        self.path = path
        self.log_path = path.with_name(path.name + ".journal")
        self.old_log_path = path.with_name(path.name + ".journal.old")
        self._lock_file = open(path.with_name(path.name + ".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreLocked(f"{path} is already served by another cancelgate process "
                              f"(lock {self._lock_file.name}); stop it or use another --db") from None
        self._log = None
        self._compacting: threading.Thread | None = None
        self.pending = 0

    def recover(self) -> dict | None:
        """The snapshot with every complete journal line applied; None if there is no database."""
        if not any(p.exists() for p in (self.path, self.log_path, self.old_log_path)):
            return None
        data: dict = {}
        if self.path.exists() and self.path.stat().st_size:
            data = JSONStorage(str(self.path), access_mode="r").read() or {}
        for log_path in (self.old_log_path, self.log_path):
            if log_path.exists():
                with open(log_path, "rb") as log:
                    for line in log:
                        try:
                            changes = json.loads(line)
                        except ValueError:
                            break  # a torn last line: that transaction was never acknowledged
                        _apply(data, changes)
        return data

    def append(self, changes: list) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")
        self._log.write(json.dumps(changes, separators=(",", ":")).encode() + b"\n")
        self._log.flush()
        os.fsync(self._log.fileno())
        self.pending += 1

    def _write_snapshot(self, data: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        written = 0
        with open(tmp, "w", encoding="utf-8") as out:
            for chunk in json.JSONEncoder(separators=(",", ":")).iterencode(data):
                out.write(chunk)
                written += len(chunk)
                if written >= SNAPSHOT_SYNC_BYTES:
                    # flush as we go: one big fsync at the end would make the journal's small
                    # fsyncs in the serving thread wait behind the whole file (ext4 ordering)
                    out.flush()
                    os.fsync(out.fileno())
                    written = 0
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def compact_in_background(self, tables: dict) -> None:
        """Called under the store's lock: rotate the journal and fold it in from a thread."""
        if self._compacting is not None and self._compacting.is_alive():
            return
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.log_path.exists():
            os.replace(self.log_path, self.old_log_path)
            _fsync_dir(self.path.parent)
        self.pending = 0
        copy_of_tables = {kind: dict(docs) for kind, docs in tables.items()}

        def fold() -> None:
            self._write_snapshot(copy_of_tables)
            self.old_log_path.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
        self._compacting = threading.Thread(target=fold, name="cancelgate-compaction", daemon=True)
        self._compacting.start()

    def snapshot(self, data: dict) -> None:
        """Fold everything into the snapshot now and start an empty journal (start, reset, stop)."""
        if self._compacting is not None:
            self._compacting.join()
        self._write_snapshot(data)
        if self._log is not None:
            self._log.close()
            self._log = None
        with open(self.log_path, "wb") as log:
            os.fsync(log.fileno())
        self.old_log_path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        self.pending = 0

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
        self._lock_file.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(data: dict, changes: list) -> None:
    for kind, key, doc in changes:
        table = data.setdefault(kind, {})
        if doc is None:
            table.pop(key, None)
        else:
            table[key] = doc


class Store:
    """TinyDB-backed state, in memory or journalled to a file."""

    def __init__(self, path: str | os.PathLike | None = None, fixtures: Fixtures | None = None):
        self._db = TinyDB(storage=MemoryStorage)
        self._db.table_class = _KeyedTable
        self._lock = threading.Lock()
        self.version = 0  # grows with every transaction that wrote something
        self._journal = _Journal(Path(path)) if path else None
        recovered = self._journal.recover() if self._journal else None
        self._load(recovered if recovered is not None else copy.deepcopy(fixtures or {}))
        if self._journal:
            self._journal.snapshot(self._data())

    def _data(self) -> dict:
        return self._db.storage.read() or {}

    def _load(self, data: dict) -> None:
        self._db.storage.write({kind: dict(docs) for kind, docs in data.items()})
        self._db.clear_cache()

    def transact(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` alone against the current state; apply its writes only if it returns."""
        with self._lock:
            tx = Tx(self._db)
            result = fn(tx)
            changes = [[kind, key, doc] for kind, docs in tx.writes.items()
                       for key, doc in docs.items()]
            if changes:
                self.version += 1
                if self._journal:
                    self._journal.append(changes)
                for kind, key, doc in changes:
                    table = self._db.table(kind)
                    table.drop(key) if doc is None else table.put(key, doc)
                record = touched_keys.get()
                if record is not None:
                    record.extend((kind, key) for kind, key, _ in changes)
                if self._journal and self._journal.pending >= COMPACT_EVERY:
                    data = self._data()
                    # folding costs O(documents): doing it once per that many changes keeps
                    # the cost per change flat however large the store grows
                    if self._journal.pending >= sum(len(docs) for docs in data.values()):
                        self._journal.compact_in_background(data)
            return result

    def reset(self, fixtures: Fixtures | None) -> None:
        """Replace all state with a copy of `fixtures` (or nothing)."""
        with self._lock:
            self.version += 1
            self._load(copy.deepcopy(fixtures or {}))
            if self._journal:
                self._journal.snapshot(self._data())

    def count(self, kind: str) -> int:
        """How many documents one table holds (cheap: no copy, no transaction)."""
        return len(self._db.table(kind))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: len(docs) for kind, docs in self._data().items()}

    def close(self) -> None:
        with self._lock:
            if self._journal:
                self._journal.snapshot(self._data())
                self._journal.close()
                self._journal = None


def open_store(db: str | None, fixtures: Fixtures | None, url: str | None = None, prefix: str = "cancelgate"):
    """The TinyDB store (in memory, or journalled to `db`), or with a redis:// `url` the Redis one."""
    if url:
        from handlers.store_redis import RedisStore  # only needed, and only imported, for Redis
        return RedisStore(url, fixtures, prefix)
    return Store(db, fixtures)
