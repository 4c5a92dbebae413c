"""The embedded store: TinyDB on a memory storage, in memory or journalled to a file.

State is a set of tables ("kinds"), each a mapping of key -> JSON document. Callers never
write directly: they run a function inside `transact`, read and write through the `Tx` it is
given, and the store applies all of its writes at once or none of them (a rule that raises
leaves nothing behind).

Durability with a file (`--db PATH`): the live data is TinyDB on a memory storage, so a lookup
is one dict access whatever the size. Every committed transaction is appended to
`PATH.journal` as one JSON line and fsynced before `transact` returns (wal.py), so nothing that
was answered with success is lost.
"""
from __future__ import annotations

import collections
import copy
import logging
import os
import threading
from pathlib import Path
from typing import Callable, Iterator

from tinydb import TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Table

from cancelgate.store.indexes import Committed, Undoable, build
from cancelgate.store.overlay import OverlayTable, private_copy
from cancelgate.store.protocol import Doc, Fixtures, StoreUnavailable, T, status_of, touched_keys
from cancelgate.store.wal import WriteAheadLog

COMPACT_EVERY = 5000            # at least; never more often than once per stored document
FOLD_BYTES = 64 << 20           # or once the journal holds this much, whichever comes first
log = logging.getLogger("cancelgate.store")


class _KeyedTable(Table):
    """A TinyDB table keyed by our own string ids, changed in place.

    TinyDB's stock `_update_table` copies the whole table on every write; on a memory storage the
    in-place update below keeps a write O(1) however many jobs there are, and a transaction's
    writes to one table are applied in one update.
    """

    document_id_class = str

    def _update_table(self, updater):
        tables = self._storage.read() or {}
        updater(tables.setdefault(self.name, {}))
        self._storage.write(tables)
        self.clear_cache()

    def apply(self, writes: dict[str, Doc | None]) -> None:
        def updater(table: dict) -> None:
            for key, doc in writes.items():
                if doc is None:
                    table.pop(key, None)
                else:
                    table[key] = doc
        self._update_table(updater)

    def raw(self) -> dict[str, Doc]:
        """The stored documents themselves, key -> document (the memory storage's own dict):
        reading one is a dict lookup, where `Table.get` wraps and copies it first."""
        return (self._storage.read() or {}).get(self.name) or {}


class TxTable(OverlayTable):
    def __init__(self, table: _KeyedTable, writes: dict[str, Doc | None], indexes: Undoable | None,
                 shared: bool = False):
        super().__init__(writes, indexes)
        self._docs = table.raw()
        self._shared = shared

    def _read(self, key: str) -> Doc | None:
        found = self._docs.get(key)
        return found if found is None or self._shared else private_copy(found)

    def _peek(self, key: str) -> Doc | None:
        return self._docs.get(key)

    def _scan(self) -> Iterator[tuple[str, Doc]]:
        for key, found in list(self._docs.items()):
            yield key, found if self._shared else private_copy(found)


class Tx:
    """What a function run by `Store.transact` reads and writes through."""

    def __init__(self, db: TinyDB, indexes: dict[str, Committed]):
        self._db = db
        self._indexes = indexes
        self.writes: dict[str, dict[str, Doc | None]] = {}
        self.deltas: dict[str, Undoable] = {}

    def table(self, kind: str, shared: bool = False) -> TxTable:
        delta = self.deltas.get(kind)
        if delta is None and kind in self._indexes:
            delta = self.deltas[kind] = Undoable(self._indexes[kind])
        return TxTable(self._db.table(kind), self.writes.setdefault(kind, {}), delta, shared)


class TinyStore:
    """TinyDB-backed state, in memory or journalled to a file; one process."""

    def __init__(self, path: str | os.PathLike | None = None, fixtures: Fixtures | None = None,
                 check: Callable[[dict, str], None] | None = None, indexes: dict | None = None):
        """`check(state, source)` refuses recovered state the server cannot serve (it raises);
        `indexes`: table -> the Index list (indexes.py) kept for it."""
        self._index_specs = dict(indexes or {})
        self._indexes: dict[str, Committed] = {}
        self._db = TinyDB(storage=MemoryStorage)
        self._db.table_class = _KeyedTable
        self._lock = threading.Lock()
        self.version = 0  # grows with every transaction that wrote something
        self._journal = WriteAheadLog(Path(path)) if path else None
        self._clock: int | None = None
        self._leases: dict[str, str] = {}
        self._requests: collections.deque = collections.deque()
        try:
            recovered = self._journal.recover() if self._journal else None
            if recovered is not None and check is not None:
                check(recovered, f"--db {path}")
        except Exception:
            if self._journal:
                self._journal.close()
            raise
        self._load(recovered if recovered is not None else copy.deepcopy(fixtures or {}))
        if self._journal:
            self._fold_or_warn("start")

    def _fold_or_warn(self, when: str) -> None:
        try:
            self._journal.fold_now(self._data())
        except StoreUnavailable as error:
            log.warning("%s; at %s the journals are kept and replayed next time", error, when)

    def _data(self) -> dict:
        return self._db.storage.read() or {}

    def _load(self, data: dict) -> None:
        self._db.storage.write({kind: dict(docs) for kind, docs in data.items()})
        self._db.clear_cache()
        self._indexes = {kind: build(specs, (data.get(kind) or {}).items())
                         for kind, specs in self._index_specs.items()}

    def transact(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn` alone against the current state; apply its writes only if it returns."""
        with self._lock:
            tx = Tx(self._db, self._indexes)
            try:   # the indexes take the writes as they happen (indexes.Undoable)
                result = fn(tx)
                changes = [[kind, key, doc] for kind, docs in tx.writes.items()
                           for key, doc in docs.items()]
                if changes and self._journal:
                    self._journal.append(changes)
            except BaseException:
                for delta in tx.deltas.values():
                    delta.rollback()
                raise
            if changes:
                self.version += 1
                for kind, docs in tx.writes.items():
                    if docs:
                        self._db.table(kind).apply(docs)
                record = touched_keys.get()
                if record is not None:
                    record.extend((kind, key, status_of(doc)) for kind, key, doc in changes)
                if self._journal and (self._journal.pending >= COMPACT_EVERY
                                      or self._journal.pending_bytes >= FOLD_BYTES):
                    data = self._data()
                    # folding costs O(documents): doing it once per that many changes keeps
                    # the cost per change flat however large the store grows; the byte bound
                    # folds an insert-only load too, whose documents grow as fast as its journal
                    if (self._journal.pending_bytes >= FOLD_BYTES
                            or self._journal.pending >= sum(len(docs) for docs in data.values())):
                        self._journal.fold_in_background(data)
            return result

    def reset(self, fixtures: Fixtures | None) -> None:
        """Replace all state with a copy of `fixtures` (or nothing)."""
        with self._lock:
            data = copy.deepcopy(fixtures or {})
            if self._journal:
                self._journal.fold_now(data)   # one atomic step; raises and changes nothing if it fails
            self.version += 1
            self._load(data)

    def count(self, kind: str) -> int:
        """How many documents one table holds (cheap: no copy, no transaction)."""
        return len(self._db.table(kind))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: len(docs) for kind, docs in self._data().items()}

    def close(self) -> None:
        with self._lock:
            if self._journal:
                self._fold_or_warn("stop")
                self._journal.close()
                self._journal = None

    # --- what a shared store keeps for all workers; one process needs only memory -----------

    def durability_warning(self) -> str | None:
        return None

    def get_clock(self) -> int | None:
        return self._clock

    def set_clock(self, ms: int) -> None:
        self._clock = ms

    def init_clock(self, ms: int) -> None:
        if self._clock is None:
            self._clock = ms

    def hold_lease(self, name: str, holder: str, ttl_ms: int) -> bool:
        return self._leases.setdefault(name, holder) == holder

    def journal_append(self, entry: dict, size: int) -> None:
        self._requests.append(entry)
        while len(self._requests) > size:
            self._requests.popleft()

    def journal_entries(self) -> list[dict]:
        return list(self._requests)

    def journal_clear(self) -> None:
        self._requests.clear()
