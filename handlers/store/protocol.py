"""What every store offers, whatever keeps the state: the protocol the rest of the server codes
against, and the few names it shares with the backends."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable, Iterator, Protocol, TypeVar

T = TypeVar("T")
Doc = dict[str, Any]
Fixtures = dict[str, dict[str, Doc]]

# Set by whoever wants to know what the current task's transactions wrote (the request journal
# and the timeline): (table, key, the status written or None), in commit order; None, the
# default, records nothing.
touched_keys: ContextVar[list | None] = ContextVar("touched_keys", default=None)


def status_of(doc: Doc | None) -> str | None:
    """The status a written document holds (None: deleted, or no status of its own)."""
    status = doc.get("status") if isinstance(doc, dict) else None
    return status if isinstance(status, str) else None


class StoreLocked(RuntimeError):
    """Another process already serves this database file."""


class StoreUnavailable(RuntimeError):
    """The store cannot take a change now (a full disk, Redis unreachable); nothing was changed.
    Answered 503 in the family's wire; reads go on, and writes resume when it is back."""


class Table(Protocol):
    """One table as a transaction sees it (see overlay.OverlayTable)."""

    def get(self, key: str, default: Any = None) -> Doc | None: ...
    def peek(self, key: str) -> Doc | None: ...   # to look at only: maybe the stored document itself
    def __contains__(self, key: str) -> bool: ...
    def __setitem__(self, key: str, doc: Doc) -> None: ...
    def pop(self, key: str, default: Any = None) -> Doc | None: ...
    def values(self) -> Iterator[Doc]: ...
    def items(self) -> Iterator[tuple[str, Doc]]: ...


class Tx(Protocol):
    def table(self, kind: str, shared: bool = False) -> Table:
        """`shared`: the caller never changes a document it reads (it writes new ones), so the
        store may hand out the stored document itself instead of a copy (the lifecycle does)."""


class Store(Protocol):
    """All or nothing: `transact(fn)` runs `fn` alone against the current state and applies its
    writes only if it returns. Every document a table hands out is the caller's own copy, unless
    the caller opened the table `shared` (Tx.table).

    The rest is what must be global when several workers share one store: the manual clock,
    leases (one scheduler), the request journal.
    """

    version: int

    def transact(self, fn: Callable[[Tx], T]) -> T: ...
    def reset(self, fixtures: Fixtures | None) -> None: ...
    def count(self, kind: str) -> int: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...
    def durability_warning(self) -> str | None: ...
    def get_clock(self) -> int | None: ...
    def set_clock(self, ms: int) -> None: ...
    def init_clock(self, ms: int) -> None: ...
    def hold_lease(self, name: str, holder: str, ttl_ms: int) -> bool: ...
    def journal_append(self, entry: dict, size: int) -> None: ...
    def journal_entries(self) -> list[dict]: ...
    def journal_clear(self) -> None: ...
