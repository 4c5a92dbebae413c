"""The one scheduler that moves the documents of every family on the server's one clock.

It iterates the family registry: each family with a `Lifecycle` names its table, a rule that
applies what is due at `now` and returns the transitions, and a rule that says when the next
one is due. Both find their documents through the store's indexes, so a tick costs what is due,
not how many documents exist.

Work is done in batches: one store transaction applies at most `TICK_BATCH` transitions of a
family on the real clock's ticks (25: 1-4 ms), `BATCH` in a manual advance (100), and the
scheduler yields to the event loop between batches, so a request waits for one batch at most
(batches run on the event loop: with the embedded store a batch is pure CPU, and a thread would
wait for the same store lock a request needs). With 100k jobs of each family falling due under
CancelJob load, ticks of 25 gave the requests a p99 of 17.8-20.5 ms and 1,300-1,360 req/s, ticks
of 100 24.3-30.2 ms and 1,100-1,170 (no lifecycle: 17.9-20.7 ms, 1,500-1,560). An advance keeps
100: its request waits for it anyway, and each batch has a fixed cost (about 0.4 ms at 100k).
With the manual clock, `advance` moves time event by event, applying each transition when due,
so a run is deterministic.

A rule that raises on one document quarantines that document (flagged in the health answer,
logged once) and every other one keeps moving.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
import time
import uuid
from typing import Callable

from cancelgate.families import REGISTRY
from cancelgate.families.poison import Poisoned, quarantine
from cancelgate.store import StoreUnavailable, touched_keys

log = logging.getLogger("cancelgate.lifecycle")

BATCH = 100
TICK_BATCH = 25
# a bound on runaway loops only: an advance over a year of 100k jobs is a few million events
MAX_EVENTS_PER_ADVANCE = 10_000_000


_paused = 0
_paused_lock = threading.Lock()
_was_enabled = True


@contextlib.contextmanager
def collector_paused():
    """The cyclic garbage collector off while an advance runs (nested and concurrent advances
    count; a collector someone else turned off stays off). An advance is a bounded burst of
    allocation whose objects are kept (documents, their index entries) or hold no cycles (the
    transitions): the collector would scan each survivor three times and, once enough had
    survived, every document in the store; at 100k jobs that was 5-7% of an hour's advance.
    What garbage an advance does leave in cycles waits for the next collection after it."""
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


class Scheduler:
    def __init__(self, store, clock, config: dict, threaded: bool = False):
        """`config`: the lifecycle file as lifecycle_config.load gives it, family -> section.
        `threaded`: run each batch in a thread (a store whose transactions wait on the network,
        Redis, so the event loop serves requests meanwhile)."""
        self.store = store
        self.threaded = threaded
        self.clock = clock
        self.config = config
        self._next_due: dict[str, int | None] = {}
        self._seen_version = -1
        self._holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.quarantined: dict[str, dict] = {}   # "<table>/<key>" -> why, when
        self.failing: dict[str, str] = {}         # family -> the error no one document explains
        # called with each batch: (family, its transitions), the list theirs to keep, not to change
        self.listeners: list[Callable[[str, list[dict]], None]] = []
        self._lock: asyncio.Lock | None = None
        self._thread_lock = threading.Lock()

    def _lifecycles(self, only=None):
        for name, family in REGISTRY.items():
            if family.lifecycle is not None and name in self.config and (only is None or name in only):
                yield name, family.lifecycle, self.config[name]

    # --- one batch -----------------------------------------------------------------------

    def _batch(self, name, lifecycle, config, now: int, budget: int) -> tuple[list[dict], bool]:
        """One transaction of one family: (transitions, whether more may be due at `now`)."""
        def step(tx):
            view = lifecycle.open(tx)
            changes = lifecycle.step(view, now, config, budget)
            return changes, lifecycle.next_due(view, config), any(tx.writes.values())
        # what the lifecycle moves is the timeline's (self.listeners), not the keys a request
        # (an advance) wrote itself: an hour over 100k jobs would journal 100k keys
        outside = touched_keys.set(None)
        try:
            return self._batch_outside(name, lifecycle, config, now, step)
        finally:
            touched_keys.reset(outside)

    def _batch_outside(self, name, lifecycle, config, now: int, step) -> tuple[list[dict], bool]:
        while True:
            try:
                changes, due, wrote = self.store.transact(step)
                # more is due now: another batch, unless this one changed nothing (then nothing will)
                more = due is not None and due <= now and wrote
                break
            except StoreUnavailable:
                raise
            except Exception as error:
                poisoned = error if isinstance(error, Poisoned) else Poisoned(lifecycle.table, None, error)
                if poisoned.key is None or not self._quarantine(poisoned, now):
                    if self.failing.get(name) != str(poisoned):
                        log.error("lifecycle of %s failed and stands still: %s", name, poisoned)
                    self.failing[name] = str(poisoned)
                    self._next_due[name] = None
                    return [], False
        if due is not None and due <= now and not more:
            # due now, yet the batch moved nothing: a rule that will not move what its index
            # says is due. Waiting for the next write beats spinning on it.
            if self.failing.get(name) is None:
                log.error("lifecycle of %s: something due at %s does not move; it waits for the next write",
                          name, due)
            self.failing[name] = f"something due at {due} does not move"
            due = None
        elif not more:
            self.failing.pop(name, None)
        self._next_due[name] = due
        for change in changes:   # the rule's own lists: tagged in place
            change["family"] = name
        for listener in self.listeners:
            listener(name, changes)
        return changes, more

    def _quarantine(self, poisoned: Poisoned, now: int) -> bool:
        reason = f"{type(poisoned.error).__name__}: {poisoned.error}"
        marked = self.store.transact(lambda tx: quarantine(tx.table(poisoned.table), poisoned.key, reason))
        if marked:
            self.quarantined[f"{poisoned.table}/{poisoned.key}"] = {"error": reason, "at": now}
            log.error("quarantined %s/%s: the lifecycle leaves it as it is (%s)", poisoned.table, poisoned.key,
                      reason)
        return marked

    def _families_due(self, now: int) -> set[str] | None:
        """The families with something due by `now` (None: all, someone else wrote meanwhile)."""
        if self.store.version != self._seen_version:
            return None
        return {name for name, due in self._next_due.items() if due is not None and due <= now}

    # --- ticks and advances ----------------------------------------------------------------

    def run_due(self) -> list[dict]:
        """Apply every transition due now, in every family, batch after batch."""
        changes: list[dict] = []
        for batch in self._batches(self.clock.now_ms()):
            changes += batch
        return changes

    def _batches(self, now: int, budget: int = BATCH):
        only = self._families_due(now)
        for name, lifecycle, config in self._lifecycles(only):
            more = True
            while more:
                changes, more = self._batch(name, lifecycle, config, now, budget)
                yield changes
        self._seen_version = self.store.version

    def _earliest(self) -> int | None:
        return min((due for due in self._next_due.values() if due is not None), default=None)

    async def advance_async(self, seconds: float) -> list[dict]:
        """Manual clock: move time forward event by event, applying each transition when due,
        and let other requests in between batches."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:   # driven in a worker thread already (web/dispatch.py, a blocking store)
            return self.advance(seconds)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            changes: list[dict] = []
            with collector_paused():
                async for batch in self._each(self._advance(seconds)):
                    changes += batch
            return changes

    async def _call(self, fn):
        return (await asyncio.to_thread(fn)) if self.threaded else fn()

    async def _each(self, batches, share: bool = False):
        """The batches of `batches` one by one, each in a thread if `threaded`, the event loop
        free in between. `share`: after each batch, leave the loop to requests for as long as
        the batch took (the real clock's ticks: a storm of transitions falling due at once takes
        at most half the loop, and requests wait one batch at most)."""
        done = object()
        while True:
            started = time.perf_counter()
            batch = (await asyncio.to_thread(next, batches, done)) if self.threaded else next(batches, done)
            if batch is done:
                return
            yield batch
            await asyncio.sleep(min(time.perf_counter() - started, 0.05) if share else 0)

    def advance(self, seconds: float) -> list[dict]:
        changes: list[dict] = []
        with self._thread_lock, collector_paused():
            for batch in self._advance(seconds):
                changes += batch
        return changes

    def _advance(self, seconds: float):
        target = self.clock.now_ms() + int(seconds * 1000)
        self._seen_version = -1   # whatever was written since the last look, look again
        yield from self._batches(self.clock.now_ms())
        for _ in range(MAX_EVENTS_PER_ADVANCE):
            due = self._earliest()
            if due is None or due > target:
                break
            self.clock.set_ms(max(due, self.clock.now_ms()))
            yield from self._batches(self.clock.now_ms())
        self.clock.set_ms(target)
        self._seen_version = -1
        yield from self._batches(target)

    def idle(self) -> bool:
        """Nothing is due and nothing was written since the last look: skip the tick."""
        due = self._earliest()
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
                if await self._call(lambda: self._leader(interval) and not self.idle()):
                    async for _ in self._each(self._batches(self.clock.now_ms(), TICK_BATCH), share=True):
                        pass
                if outage:
                    log.warning("the store answers again: jobs move on")
                pause, outage = interval, False
            except StoreUnavailable as error:
                if not outage:
                    log.warning("the store is unavailable, so jobs stand still until it is back: %s", error)
                pause, outage = min(max(pause * 2, interval), 5.0), True
            except Exception:  # the server must keep serving whatever one tick does
                log.exception("lifecycle tick failed")
                pause = min(max(pause * 2, interval), 5.0)
