"""The one scheduler that moves the documents of every family on the server's one clock.

It iterates the family registry: each family with a `Lifecycle` names its table, a rule that
applies what is due at `now` and returns the transitions, and a rule that says when the next
one is due. The scheduler runs them inside one store transaction: on a timer with the real
clock, or on demand, event by event, when a test advances the manual clock (so a run is
deterministic).
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid

from cancelgate.families import REGISTRY
from cancelgate.store import StoreUnavailable

log = logging.getLogger("cancelgate.lifecycle")

MAX_EVENTS_PER_ADVANCE = 100_000


class Scheduler:
    def __init__(self, store, clock, config: dict):
        """`config`: the lifecycle file as lifecycle_config.load gives it, family -> section."""
        self.store = store
        self.clock = clock
        self.config = config
        self._next_due: int | None = 0
        self._seen_version = -1
        self._holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _lifecycles(self):
        for name, family in REGISTRY.items():
            if family.lifecycle is not None and name in self.config:
                yield name, family.lifecycle, self.config[name]

    def run_due(self) -> list[dict]:
        """Apply every transition due now, in every family."""
        now = self.clock.now_ms()

        def step_all(tx):
            changes = []
            for name, lifecycle, config in self._lifecycles():
                changes += [{"family": name, **c} for c in lifecycle.step(lifecycle.open(tx), now, config)]
            return changes, self._earliest(tx)
        changes, self._next_due = self.store.transact(step_all)
        self._seen_version = self.store.version
        return changes

    def _earliest(self, tx) -> int | None:
        times = [due for _, lifecycle, config in self._lifecycles()
                 if (due := lifecycle.next_due(lifecycle.open(tx), config)) is not None]
        return min(times, default=None)

    def advance(self, seconds: float) -> list[dict]:
        """Manual clock: move time forward event by event, applying each transition when due."""
        target = self.clock.now_ms() + int(seconds * 1000)
        changes = self.run_due()
        for _ in range(MAX_EVENTS_PER_ADVANCE):
            due = self._next_due
            if due is None or due > target:
                break
            self.clock.set_ms(max(due, self.clock.now_ms()))
            changes += self.run_due()
        self.clock.set_ms(target)
        changes += self.run_due()
        return changes

    def idle(self) -> bool:
        """Nothing is due and nothing was written since the last look: skip the scan."""
        due = self._next_due
        return (self.store.version == self._seen_version
                and (due is None or due > self.clock.now_ms()))

    def _leader(self, interval: float) -> bool:
        """With a shared store, only the worker holding the scheduler lease ticks; when it dies,
        the lease expires and another worker takes over."""
        return self.store.hold_lease("scheduler", self._holder, int(interval * 4000))

    async def run_forever(self, interval: float = 0.5) -> None:
        """Tick until cancelled. A store outage pauses the ticks (one log line when it starts,
        one when it ends, a growing pause between tries) and never ends this task."""
        pause, outage = interval, False
        while True:
            await asyncio.sleep(pause)
            try:
                if self._leader(interval) and not self.idle():
                    self.run_due()
                if outage:
                    log.warning("the store answers again: jobs move on")
                pause, outage = interval, False
            except StoreUnavailable as error:
                if not outage:
                    log.warning("the store is unavailable, so jobs stand still until it is back: %s", error)
                pause, outage = min(max(pause * 2, interval), 5.0), True
            except Exception:  # the server must keep serving whatever one tick does
                log.exception("lifecycle tick failed")
