"""Recent status transitions, for the state page's timeline: what the scheduler moved on the
clock and what requests (the emulated APIs' and the control plane's) changed.

Kept in this process, bounded: the last `size` transitions, and the last known status of the
documents most recently moved or seen (at least the last `known_size` of them, at most twice
that), so a request's write is recorded only when it changed a status (and with the status it
changed from, when it is known). With several workers each keeps its own.

An advance of an hour over 100k jobs hands over 200k transitions, 100 at a time: the scheduler's
batches are kept as they come and become entries only when someone looks (only the newest
`size` ever can), and the known statuses are two generations of plain dicts, a batch going in
with one C-level update. Handling each transition one by one was a tenth of that advance.
"""
from __future__ import annotations

import threading
from collections import deque
from operator import itemgetter

_ids, _tos = itemgetter("id"), itemgetter("to")


class Transitions:
    def __init__(self, size: int = 500, known_size: int = 20_000):
        self._entries: deque[dict] = deque(maxlen=size)
        self._size = size
        self._known_size = known_size
        # table -> key -> status: the current generation, and the one before it
        self._young: dict[str, dict[str, str]] = {}
        self._old: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._sequence = 0
        # the scheduler's batches not yet entries: (family, table, changes, seq of the first),
        # no more of them than can still be among the newest `size`
        self._pending: deque[tuple[str, str, list[dict], int]] = deque()
        self._pending_count = 0

    # --- the known statuses ----------------------------------------------------------------

    def _known(self, table: str, key: str) -> str | None:
        young = self._young.get(table)
        if young is not None and key in young:
            return young[key]
        old = self._old.get(table)
        return None if old is None else old.get(key)

    def _learnt(self) -> None:
        """A new generation once the current one holds `known_size` documents: the one before
        it is forgotten, so between `known_size` and twice that are known."""
        if sum(len(keys) for keys in self._young.values()) >= self._known_size:
            self._old, self._young = self._young, {}

    def _remember(self, table: str, key: str, status: str) -> str | None:
        before = self._known(table, key)
        self._young.setdefault(table, {})[key] = status
        self._learnt()
        return before

    # --- the entries -------------------------------------------------------------------------

    def _append(self, entry: dict) -> None:
        self._sequence += 1
        entry["seq"] = self._sequence
        self._entries.append(entry)

    def _entries_now(self) -> None:
        """The pending batches' transitions become entries (the lock held)."""
        newest: list[dict] = []
        for family, table, changes, first in reversed(self._pending):
            for offset in range(len(changes) - 1, -1, -1):
                if len(newest) >= self._size:
                    break
                change = changes[offset]
                newest.append({"at": change["at"], "family": family, "table": table, "id": str(change["id"]),
                               "from": change["from"], "to": change["to"], "source": "clock",
                               "operationId": None, "seq": first + offset})
        self._entries.extend(reversed(newest))
        self._pending.clear()
        self._pending_count = 0

    def clock(self, family: str, table: str, changes: list[dict]) -> None:
        """Transitions the scheduler applied (`{"id", "from", "to", "at"}` each), in order.
        The list is kept as it is until shown: the caller does not change it afterwards."""
        if not changes:
            return
        with self._lock:
            self._pending.append((family, table, changes, self._sequence + 1))
            self._sequence += len(changes)
            self._pending_count += len(changes)
            while self._pending_count - len(self._pending[0][2]) >= self._size:   # never to be shown
                self._pending_count -= len(self._pending.popleft()[2])
            self._young.setdefault(table, {}).update(zip(map(str, map(_ids, changes)), map(_tos, changes), strict=True))
            self._learnt()

    def request(self, at: int, family: str, table: str, key: str, status: str, operation_id: str | None) -> None:
        """A document a request wrote, with its status now: recorded if that status is new."""
        with self._lock:
            before = self._remember(table, key, status)
            if before != status:
                self._entries_now()
                self._append({"at": at, "family": family, "table": table, "id": key, "from": before,
                              "to": status, "source": "request", "operationId": operation_id})

    def seen(self, table: str, key: str, status: str) -> None:
        """A status read elsewhere (the state listing), so the next change knows where it came from."""
        with self._lock:
            if self._known(table, key) is None:
                self._remember(table, key, status)

    def recent(self, limit: int) -> list[dict]:
        with self._lock:
            self._entries_now()
            return list(self._entries)[-limit:] if limit else []

    def forget(self) -> None:
        """The state was replaced (a reset): no status known is true any more."""
        with self._lock:
            self._young, self._old = {}, {}
