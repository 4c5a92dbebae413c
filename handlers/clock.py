"""Time as the server sees it. Every timestamp in a response comes from here."""
from __future__ import annotations

import time


class RealClock:
    """Wall-clock time in epoch milliseconds."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)
