"""A transaction's view of one table, shared by both backends: stored documents with the
transaction's own writes laid over them."""
from __future__ import annotations

import heapq
import pickle
from typing import Any, Iterator

from sortedcontainers import SortedList

from cancelgate.store.indexes import TOP, Entry, _take, key_of, member
from cancelgate.store.protocol import Doc


def private_copy(doc: Doc) -> Doc:
    """A deep copy of a stored document (pickle is the fastest deep copy of JSON data in the
    standard library), so a rule that changes what it read cannot change committed state."""
    return pickle.loads(pickle.dumps(doc, pickle.HIGHEST_PROTOCOL))


class OverlayTable:
    """One table as a transaction sees it: the stored documents with this transaction's writes
    laid over them. Backends supply `_read(key)` and `_scan()` (each stored document once)."""

    def __init__(self, writes: dict[str, Doc | None], indexes: "TxIndexes | None" = None):
        self._writes = writes
        self._indexes = indexes

    def _read(self, key: str) -> Doc | None:
        raise NotImplementedError

    def _scan(self) -> Iterator[tuple[str, Doc]]:
        raise NotImplementedError

    def get(self, key: str, default: Any = None) -> Doc | None:
        doc = self._writes[key] if key in self._writes else self._read(key)
        return default if doc is None else doc

    def peek(self, key: str) -> Doc | None:
        """The document to look at, not to change: where the backend holds it (TinyDB), the
        stored one itself, without the copy `get` makes."""
        return self._writes[key] if key in self._writes else self._peek(key)

    def _peek(self, key: str) -> Doc | None:
        return self._read(key)

    def __contains__(self, key: str) -> bool:
        return self.peek(key) is not None

    def __setitem__(self, key: str, doc: Doc) -> None:
        self._writes[key] = doc
        if self._indexes is not None:
            self._indexes.write(key, doc)

    def pop(self, key: str, default: Any = None) -> Doc | None:
        doc = self.get(key, default)
        self._writes[key] = None
        if self._indexes is not None:
            self._indexes.write(key, None)
        return doc

    # --- the table's indexes (indexes.py), this transaction's writes included ---------------

    def ordered(self, name: str, group: str, upto: str | None = None, limit: int | None = None) -> list[str]:
        """Keys of `group` in index order (only those whose sort key is at most `upto`)."""
        return self._indexes.ordered(name, group, upto, limit)

    def members(self, name: str, group: str, upto: str | None = None, limit: int | None = None) -> list[str]:
        """The same, as index members (`<sort key>\\0<key>`, indexes.sort_key_of / key_of)."""
        return self._indexes.members(name, group, upto, limit)

    def size(self, name: str, group: str) -> int:
        return self._indexes.size(name, group)

    def groups(self, name: str) -> list[str]:
        """The groups of an index that hold at least one document."""
        return self._indexes.groups(name)

    def items(self) -> Iterator[tuple[str, Doc]]:
        """Every (key, document), each document the caller's own copy (backends' `_scan` copy)."""
        for key, doc in self._scan():
            if key not in self._writes:
                yield key, doc
        yield from ((key, doc) for key, doc in self._writes.items() if doc is not None)

    def values(self) -> Iterator[Doc]:
        """Every document, each the caller's own copy."""
        return (doc for _, doc in self.items())


class TxIndexes:
    """One transaction's changes to one table's indexes, laid over the committed ones.

    `committed` is the backend's view of the indexes as they were committed: `entry(name, key)`,
    `ordered(name, group, upto)` (members, in order), `size(name, group)`, `groups(name)`.
    `before` keeps each written key's committed entry, which is what a backend that stores
    its indexes apart (Redis) removes at commit.
    """

    def __init__(self, indexes, committed):
        self.indexes = {index.name: index for index in indexes}
        self.committed = committed
        self.own: dict[str, dict[str, Entry | None]] = {name: {} for name in self.indexes}
        self.before: dict[str, dict[str, Entry | None]] = {name: {} for name in self.indexes}
        self._added: dict[str, dict[str, SortedList]] = {name: {} for name in self.indexes}
        self._left: dict[str, dict[str, int]] = {name: {} for name in self.indexes}

    def write(self, key: str, doc: Doc | None) -> None:
        for name, index in self.indexes.items():
            own = self.own[name]
            new = index.entry(doc) if doc is not None else None
            if key in own:
                old = own[key]
                if old == new:
                    continue
                if old is not None:
                    self._added[name][old[0]].discard(member(old, key))
            else:
                before = self.before[name][key] = self.committed.entry(name, key)
                if before is None and new is None:
                    own[key] = None
                    continue
                if before is not None:
                    self._left[name][before[0]] = self._left[name].get(before[0], 0) + 1
            own[key] = new
            if new is not None:
                added = self._added[name]
                group = added.get(new[0])
                if group is None:
                    group = added[new[0]] = SortedList()
                group.add(member(new, key))

    def members(self, name: str, group: str, upto: str | None, limit: int | None) -> list[str]:
        own = self.own[name]
        stored = (m for m in self.committed.ordered(name, group, upto) if key_of(m) not in own)
        added = self._added[name].get(group) or ()
        if added and upto is not None:
            added = added.irange(maximum=upto + TOP, inclusive=(True, False))
        return _take(heapq.merge(stored, added), limit)

    def ordered(self, name: str, group: str, upto: str | None, limit: int | None) -> list[str]:
        return [key_of(m) for m in self.members(name, group, upto, limit)]

    def size(self, name: str, group: str) -> int:
        return (self.committed.size(name, group) - self._left[name].get(group, 0)
                + len(self._added[name].get(group) or ()))

    def groups(self, name: str) -> list[str]:
        candidates = set(self.committed.groups(name)) | set(self._added[name])
        return sorted(group for group in candidates if self.size(name, group) > 0)
