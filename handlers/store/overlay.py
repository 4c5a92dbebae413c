"""A transaction's view of one table, shared by both backends: stored documents with the
transaction's own writes laid over them."""
from __future__ import annotations

import pickle
from typing import Any, Iterator

from cancelgate.store.protocol import Doc


def private_copy(doc: Doc) -> Doc:
    """A deep copy of a stored document (pickle is the fastest deep copy of JSON data in the
    standard library), so a rule that changes what it read cannot change committed state."""
    return pickle.loads(pickle.dumps(doc, pickle.HIGHEST_PROTOCOL))


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

    def items(self) -> Iterator[tuple[str, Doc]]:
        """Every (key, document), each document the caller's own copy (backends' `_scan` copy)."""
        for key, doc in self._scan():
            if key not in self._writes:
                yield key, doc
        yield from ((key, doc) for key, doc in self._writes.items() if doc is not None)

    def values(self) -> Iterator[Doc]:
        """Every document, each the caller's own copy."""
        return (doc for _, doc in self.items())
