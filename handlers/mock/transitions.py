"""Recent status transitions, for the state page's timeline: what the scheduler moved on the
clock and what requests (the emulated APIs' and the control plane's) changed.

Kept in this process, bounded: the last `size` transitions, and the last known status of at
most `known_size` documents, so a request's write is recorded only when it changed a status
(and with the status it changed from, when it is known). With several workers each keeps its own.
"""
from __future__ import annotations

import threading
from collections import OrderedDict, deque


class Transitions:
    def __init__(self, size: int = 500, known_size: int = 20_000):
        self._entries: deque[dict] = deque(maxlen=size)
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._known_size = known_size
        self._lock = threading.Lock()
        self._sequence = 0

    def _remember(self, table: str, key: str, status: str) -> str | None:
        before = self._known.pop((table, key), None)
        self._known[(table, key)] = status
        while len(self._known) > self._known_size:
            self._known.popitem(last=False)
        return before

    def _append(self, entry: dict) -> None:
        self._sequence += 1
        entry["seq"] = self._sequence
        self._entries.append(entry)

    def clock(self, family: str, table: str, changes: list[dict]) -> None:
        """Transitions the scheduler applied (`{"id", "from", "to", "at"}` each)."""
        with self._lock:
            for change in changes:
                key = str(change["id"])
                self._remember(table, key, change["to"])
                self._append({"at": change["at"], "family": family, "table": table, "id": key,
                              "from": change["from"], "to": change["to"], "source": "clock", "operationId": None})

    def request(self, at: int, family: str, table: str, key: str, status: str, operation_id: str | None) -> None:
        """A document a request wrote, with its status now: recorded if that status is new."""
        with self._lock:
            before = self._remember(table, key, status)
            if before != status:
                self._append({"at": at, "family": family, "table": table, "id": key, "from": before,
                              "to": status, "source": "request", "operationId": operation_id})

    def seen(self, table: str, key: str, status: str) -> None:
        """A status read elsewhere (the state listing), so the next change knows where it came from."""
        with self._lock:
            if (table, key) not in self._known:
                self._remember(table, key, status)

    def recent(self, limit: int) -> list[dict]:
        with self._lock:
            return list(self._entries)[-limit:] if limit else []

    def forget(self) -> None:
        """The state was replaced (a reset): no status known is true any more."""
        with self._lock:
            self._known.clear()
