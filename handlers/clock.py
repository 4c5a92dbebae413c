"""Time as the server sees it. Every timestamp in a response, and every lifecycle step, comes
from one clock: the wall clock, or a manual one that moves only when told to."""
from __future__ import annotations

import datetime
import threading
import time


class RealClock:
    """Wall-clock time in epoch milliseconds."""

    manual = False

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """Starts at the wall clock's time (or `start_ms`) and moves only through `set_ms`.

    With a `store`, the time lives there, so every worker sharing a Redis store reads the same
    manual clock.
    """

    manual = True

    def __init__(self, start_ms: int | None = None, shared=None):
        self._now = int(time.time() * 1000) if start_ms is None else start_ms
        self._lock = threading.Lock()
        self._shared = shared
        if self._shared is not None:
            self._shared.init_clock(self._now)

    def now_ms(self) -> int:
        return self._shared.get_clock() if self._shared is not None else self._now

    def set_ms(self, value: int) -> None:
        with self._lock:
            if value < self.now_ms():
                raise ValueError("a manual clock never goes back")
            self._now = value
            if self._shared is not None:
                self._shared.set_clock(value)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and a `Z`: the one time format of
    every answer that shows times as text (Vault, the control plane)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
