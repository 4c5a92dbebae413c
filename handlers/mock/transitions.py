"""Recent status transitions, for the state page's timeline: what the scheduler moved on the
clock and what requests (the emulated APIs' and the control plane's) changed.

Kept in this process, bounded: the last `size` transitions, and the last known status of at
most `known_size` documents, so a request's write is recorded only when it changed a status
(and with the status it changed from, when it is known). With several workers each keeps its own.

The scheduler's batches are kept as it hands them over and applied when someone next looks or
a request writes: an advance of an hour over 100k jobs hands over 200k transitions, of which
the timeline keeps 500 and the known statuses the last 20,000 documents' (applying each as it
came was a tenth of that advance).
"""
from __future__ import annotations

import threading
from collections import OrderedDict, deque


class Transitions:
    def __init__(self, size: int = 500, known_size: int = 20_000):
        self._entries: deque[dict] = deque(maxlen=size)
        self._size = size
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._known_size = known_size
        self._lock = threading.Lock()
        self._sequence = 0
        # the scheduler's batches not applied yet: (family, table, changes, seq of the first)
        self._pending: list[tuple[str, str, list[dict], int]] = []
        self._pending_count = 0

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
        """Transitions the scheduler applied (`{"id", "from", "to", "at"}` each), in order.
        The list is kept as it is until applied: the caller does not change it afterwards."""
        if not changes:
            return
        with self._lock:
            self._pending.append((family, table, changes, self._sequence + 1))
            self._sequence += len(changes)
            self._pending_count += len(changes)
            if self._pending_count > 4 * (self._known_size + self._size):   # bounded while no one looks
                self._apply_pending()

    def _apply_pending(self) -> None:
        """The pending batches into the timeline and the known statuses (the lock held): only
        the newest `size` become entries, and only the newest status of the newest
        `known_size` documents is remembered, which is all either would keep."""
        pending, self._pending, self._pending_count = self._pending, [], 0
        newest: list[dict] = []
        for family, table, changes, first in reversed(pending):
            for offset in range(len(changes) - 1, -1, -1):
                if len(newest) >= self._size:
                    break
                change = changes[offset]
                newest.append({"at": change["at"], "family": family, "table": table, "id": str(change["id"]),
                               "from": change["from"], "to": change["to"], "source": "clock",
                               "operationId": None, "seq": first + offset})
        self._entries.extend(reversed(newest))
        latest: dict[tuple[str, str], str] = {}
        for _, table, changes, _ in reversed(pending):
            for change in reversed(changes):
                latest.setdefault((table, str(change["id"])), change["to"])
            if len(latest) >= self._known_size:
                break
        for (table, key), status in reversed(list(latest.items())):   # oldest first, as they came
            self._remember(table, key, status)

    def request(self, at: int, family: str, table: str, key: str, status: str, operation_id: str | None) -> None:
        """A document a request wrote, with its status now: recorded if that status is new."""
        with self._lock:
            self._apply_pending()
            before = self._remember(table, key, status)
            if before != status:
                self._append({"at": at, "family": family, "table": table, "id": key, "from": before,
                              "to": status, "source": "request", "operationId": operation_id})

    def seen(self, table: str, key: str, status: str) -> None:
        """A status read elsewhere (the state listing), so the next change knows where it came from."""
        with self._lock:
            self._apply_pending()
            if (table, key) not in self._known:
                self._remember(table, key, status)

    def recent(self, limit: int) -> list[dict]:
        with self._lock:
            self._apply_pending()
            return list(self._entries)[-limit:] if limit else []

    def forget(self) -> None:
        """The state was replaced (a reset): no status known is true any more."""
        with self._lock:
            self._apply_pending()
            self._known.clear()
