"""The request journal: the last `size` requests, oldest dropped; size 0 keeps nothing.

Kept in the store, so that with a shared store (Redis) it is common to all workers. An entry
holds the request line, operation, family, status, error code, duration, the clock's time and
the store keys the request wrote; never a header value or a body, so no secret (an
Authorization header, a Vault password) can end up in it.
"""
from __future__ import annotations

from cancelgate.store import StoreUnavailable


class Journal:
    def __init__(self, size: int, store):
        self.size = size
        self.enabled = size > 0
        self.store = store

    def add(self, entry: dict) -> None:
        """Best effort: the answer has gone already, so a store outage only loses the entry."""
        if self.enabled:
            try:
                self.store.journal_append(entry, self.size)
            except StoreUnavailable:
                pass

    def query(self, operation_id: str | None, status: int | None, limit: int) -> list[dict]:
        found = [e for e in self.store.journal_entries()
                 if (operation_id is None or e["operationId"] == operation_id)
                 and (status is None or e["status"] == status)]
        return found[-limit:]

    def clear(self) -> None:
        self.store.journal_clear()
