"""Ordered secondary indexes over a table, kept in step with every write.

A family declares, per table, `Index(name, entry)`: `entry(doc)` gives the document's place in
that index, `(group, sort key)`, or None to leave it out. Within a group, documents are ordered
by sort key, then by table key. This is how the scheduler finds what is due and a queue finds
its head without scanning a table: `ordered`, `size` and `groups` below cost O(log n) plus
what they return.

`Committed` is one table's indexes in memory (the TinyDB store's, and `IndexedDict`'s for rules
run on plain mappings); the Redis store keeps the same members in sorted sets. Members are
strings, `<sort key>\\0<key>`, so both order them the same way (bytewise).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sortedcontainers import SortedList

from cancelgate.store.protocol import status_of

Entry = tuple[str, str]
SEP = "\x00"
# above any character a sort key holds: `upto + TOP` bounds every member whose key is `upto`
TOP = "\x01"
_OFFSET = 1 << 62


def num(value: Any) -> str | None:
    """An integer as a sort key that orders as the number does (None if it is no finite
    number within ±2**62)."""
    if type(value) is not int:   # the common case first: a plain int (a bool is not one)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        value = int(value)
    if not -_OFFSET < value < _OFFSET:
        return None
    text = str(value + _OFFSET)   # 19 digits for any time or priority; str is twice as fast as a format
    return text if len(text) == 19 else text.zfill(19)


def member(entry: Entry, key: str) -> str:
    return f"{entry[1]}{SEP}{key}"


def key_of(item: str) -> str:
    return item.rsplit(SEP, 1)[1]


def sort_key_of(item: str) -> str:
    return item.rsplit(SEP, 1)[0]


def number_of(item: str) -> int:
    """The number a member's sort key holds, when the key is one `num` (the inverse of num)."""
    return int(sort_key_of(item)) - _OFFSET


def first_number(table, name: str, group: str) -> int | None:
    """The number of the first member of an index group whose sort keys are `num`s."""
    found = table.members(name, group, limit=1)
    return None if not found else number_of(found[0])


class Committed:
    """The indexes of one table: name -> group -> ordered members, and each key's entry."""

    def __init__(self, indexes: Sequence):
        self.indexes = {index.name: index for index in indexes}
        self._groups: dict[str, dict[str, SortedList]] = {name: {} for name in self.indexes}
        self._entries: dict[str, dict[str, Entry]] = {name: {} for name in self.indexes}
        self._each = [(name, index.entry, self._entries[name], index.statuses)
                      for name, index in self.indexes.items()]

    def put(self, key: str, doc: Mapping | None) -> None:
        for name, index in self.indexes.items():
            self.move(name, key, index.entry(doc) if doc is not None else None)

    def move(self, name: str, key: str, new: Entry | None) -> None:
        """`key` takes its place `new` in index `name` (None: out of it)."""
        old = self._entries[name].get(key)
        if old != new:
            self._move(name, key, old, new)

    def _move(self, name: str, key: str, old: Entry | None, new: Entry | None) -> None:
        entries = self._entries[name]
        groups = self._groups[name]
        if old is not None:
            group = groups[old[0]]
            group.discard(f"{old[1]}{SEP}{key}")   # member(old, key), inlined on the hot path
            if not group:
                del groups[old[0]]
        if new is None:
            del entries[key]
            return
        entries[key] = new
        group = groups.get(new[0])
        if group is None:
            group = groups[new[0]] = SortedList()
        group.add(f"{new[1]}{SEP}{key}")

    def entry(self, name: str, key: str) -> Entry | None:
        return self._entries[name].get(key)

    def ordered(self, name: str, group: str, upto: str | None = None) -> Iterator[str]:
        members = self._groups[name].get(group)
        if not members:
            return iter(())
        if upto is None:
            return iter(members)
        return members.irange(maximum=upto + TOP, inclusive=(True, False))

    def size(self, name: str, group: str) -> int:
        return len(self._groups[name].get(group) or ())

    def groups(self, name: str) -> list[str]:
        return sorted(self._groups[name])


class Undoable:
    """A transaction's index changes applied to the committed indexes at once, with what undoes
    them if the transaction does not commit. Sound where one transaction at a time holds the
    store and nothing else reads the indexes (the TinyDB store): queries are then plain
    lookups in the committed structure, however many writes the transaction made before."""

    def __init__(self, committed: Committed):
        self.committed = committed
        self._undo: list[tuple[str, str, Entry | None]] = []

    def write(self, key: str, doc: Mapping | None) -> None:
        committed = self.committed
        status = status_of(doc)
        for name, entry, entries, statuses in committed._each:   # the hot path of every write: kept flat
            if doc is None or (statuses is not None and status not in statuses):
                new = None
            else:
                new = entry(doc)
            old = entries.get(key)
            if old != new:
                self._undo.append((name, key, old))
                committed._move(name, key, old, new)

    def rollback(self) -> None:
        for name, key, old in reversed(self._undo):
            self.committed.move(name, key, old)
        self._undo.clear()

    def members(self, name: str, group: str, upto: str | None, limit: int | None) -> list[str]:
        return _take(self.committed.ordered(name, group, upto), limit)

    def ordered(self, name: str, group: str, upto: str | None, limit: int | None) -> list[str]:
        return [key_of(m) for m in self.members(name, group, upto, limit)]

    def size(self, name: str, group: str) -> int:
        return self.committed.size(name, group)

    def groups(self, name: str) -> list[str]:
        return self.committed.groups(name)


def build(indexes: Sequence, docs: Iterable[tuple[str, Mapping]]) -> Committed:
    committed = Committed(indexes)
    for key, doc in docs:
        committed.put(key, doc)
    return committed


class IndexedDict(dict):
    """A plain dict of documents with the indexes rules query (unit tests, scratch worlds).
    Documents are stored as given; the rules never change one in place."""

    def __init__(self, indexes: Sequence, docs: Mapping | None = None):
        super().__init__()
        self._committed = Committed(indexes)
        for key, doc in (docs or {}).items():
            IndexedDict.__setitem__(self, key, doc)

    def __setitem__(self, key: str, doc: Mapping) -> None:
        super().__setitem__(key, doc)
        self._committed.put(key, doc)

    def pop(self, key: str, default: Any = None) -> Any:
        self._committed.put(key, None)
        return super().pop(key, default)

    def peek(self, key: str) -> Any:
        return self.get(key)

    def __delitem__(self, key: str) -> None:
        self._committed.put(key, None)
        super().__delitem__(key)

    def ordered(self, name: str, group: str, upto: str | None = None, limit: int | None = None) -> list[str]:
        return _take((key_of(m) for m in self._committed.ordered(name, group, upto)), limit)

    def members(self, name: str, group: str, upto: str | None = None, limit: int | None = None) -> list[str]:
        return _take(self._committed.ordered(name, group, upto), limit)

    def size(self, name: str, group: str) -> int:
        return self._committed.size(name, group)

    def groups(self, name: str) -> list[str]:
        return self._committed.groups(name)


def _take(keys: Iterator[str], limit: int | None) -> list[str]:
    if limit is None:
        return list(keys)
    taken = []
    for key in keys:
        if len(taken) >= limit:
            break
        taken.append(key)
    return taken

