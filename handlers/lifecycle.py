"""The one scheduler that moves jobs of every family on the server's one clock.

Each family's transition rules are plain functions in handlers/rules/<family>.py:
`lifecycle_step(table, now, config)` applies what is due at `now` and returns the transitions,
`lifecycle_next(table, config)` says when the next one is due. The scheduler runs them inside
one store transaction: on a timer with the real clock, or on demand, event by event, when a
test advances the manual clock (so a run is deterministic).
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import yaml

from handlers.rules import batch as batch_rules
from handlers.rules import iot as iot_rules
from handlers.rules import vault as vault_rules

log = logging.getLogger("cancelgate.lifecycle")

# family -> (table, step, next due)
ENGINES: dict[str, tuple[str, Any, Any]] = {
    "batch": ("batch_jobs", batch_rules.lifecycle_step, batch_rules.lifecycle_next),
    "iot": ("iot_executions", iot_rules.lifecycle_step, iot_rules.lifecycle_next),
    "vault": ("vault_jobs", vault_rules.lifecycle_step, vault_rules.lifecycle_next),
}

MAX_EVENTS_PER_ADVANCE = 100_000


def load_config(path: str | Path) -> dict:
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    unknown = set(config) - set(ENGINES)
    if unknown:
        raise ValueError(f"lifecycle file names unknown families: {sorted(unknown)}")
    return config


class Scheduler:
    def __init__(self, store, clock, config: dict):
        self.store = store
        self.clock = clock
        self.config = config
        self._next_due: int | None = 0
        self._seen_version = -1

    def _engines(self):
        for family, (table, step, next_due) in ENGINES.items():
            if family in self.config:
                yield family, table, step, next_due

    def run_due(self) -> list[dict]:
        """Apply every transition due now, in every family."""
        now = self.clock.now_ms()

        def step_all(tx):
            changes = []
            for family, table, step, _ in self._engines():
                changes += [{"family": family, **c} for c in step(tx.table(table), now, self.config[family])]
            return changes, self._earliest(tx)
        changes, self._next_due = self.store.transact(step_all)
        self._seen_version = self.store.version
        return changes

    def _earliest(self, tx) -> int | None:
        times = []
        for family, table, _, next_due in self._engines():
            due = next_due(tx.table(table), self.config[family])
            if due is not None:
                times.append(due)
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
        if not hasattr(self.store, "hold_lease"):
            return True
        return self.store.hold_lease("scheduler", self._holder, int(interval * 4000))

    async def run_forever(self, interval: float = 0.5) -> None:
        self._holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        while True:
            await asyncio.sleep(interval)
            if not self._leader(interval) or self.idle():
                continue
            try:
                self.run_due()
            except Exception:  # the server must keep serving whatever one tick does
                log.exception("lifecycle tick failed")

