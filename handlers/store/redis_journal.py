"""The request journal on Redis, written in batches by the worker's event loop or a thread.

An entry is written after its request has been answered (web/pipeline.py's observe step), so
nothing waits for it but the next reader. Written one request at a time it was a round trip
per request, as costly as the request's own transaction; here every entry that arrives while a
batch is being written goes out with the next one: one script call (RPUSH of them all, then
LTRIM to the journal's size) per batch, one batch at a time so they land in order. Entries
appended on a running event loop (the server's requests) are written by a task on that loop;
others (no loop in the appending thread) by a thread, which woke and fought the loop for the
GIL once per request when it wrote the server's entries too. A reader in the same worker
first waits for what this worker has queued, so a client that reads the journal after its
answer finds its request there. Best effort, as before: while Redis is unreachable the entries
are lost, never the answers.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading

import redis

from cancelgate.store import bridge

log = logging.getLogger("cancelgate.store")
BATCH = 500            # entries per script call at most (each one is a script argument)
FLUSH_TIMEOUT_S = 5.0

# KEYS[1]: the journal; ARGV[1]: its size, then the entries, oldest first
_APPEND = """
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return 1
"""


def _on_a_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class JournalWriter:
    def __init__(self, link, key: str):
        """`link`: a redis_link.Link."""
        self._link = link
        self._key = key
        self._pending: list[str] = []
        self._size = 0
        self._appended = 0      # entries ever queued
        self._settled = 0       # of those, written or given up
        self._sending = False   # a batch is on its way (one at a time: they land in order)
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task | None = None

    def append(self, entry: dict, size: int) -> None:
        raw = json.dumps(entry, separators=(",", ":"))
        loop = _on_a_loop()
        with self._changed:
            if self._closed:
                return
            self._pending.append(raw)
            self._appended += 1
            self._size = size
            if len(self._pending) > size:   # Redis is slow or away: only the last `size` would be kept
                dropped = len(self._pending) - size
                del self._pending[:dropped]
                self._settled += dropped
            if loop is None and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cancelgate-journal", daemon=True)
                self._thread.start()
            self._changed.notify_all()
        if loop is not None and (self._task is None or self._task.done()):
            self._task = loop.create_task(self._write_on_loop())

    def queued(self) -> int:
        """Entries waiting to be written."""
        with self._changed:
            return len(self._pending)

    def flush(self) -> None:
        """Wait until what this worker had queued when called has been written (or given up
        on); what is queued meanwhile does not keep it waiting. Not on the loop that writes:
        from a thread (store/bridge.py's `blocking`)."""
        with self._changed:
            target = self._appended
            self._changed.wait_for(lambda: self._settled >= target, FLUSH_TIMEOUT_S)

    def discard(self) -> None:
        """Forget what is queued and not yet sent (the journal is being cleared), and wait for
        the batch being written, if any."""
        with self._changed:
            self._settled += len(self._pending)
            self._pending.clear()
            target = self._appended
            self._changed.wait_for(lambda: self._settled >= target, FLUSH_TIMEOUT_S)

    async def drain(self) -> None:
        """Before the loop stops: take no more entries, and let a task on the loop write what
        is queued (for at most FLUSH_TIMEOUT_S)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLUSH_TIMEOUT_S
        with self._changed:
            self._closed = True
        while loop.time() < deadline:
            if self._task is not None and not self._task.done():
                await asyncio.wait([self._task], timeout=deadline - loop.time())
                continue
            with self._changed:
                if not self._pending:
                    return
                waiting = self._sending   # the thread's batch is on its way
            if waiting:
                await asyncio.sleep(0.01)
            else:
                self._task = loop.create_task(self._write_on_loop())

    def close(self) -> None:
        """Write what is queued (waiting for it, but never on a running loop: that loop's task
        is what would write it, so it waits in `drain` instead) and stop the thread."""
        if not _on_a_loop():
            self.flush()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(FLUSH_TIMEOUT_S)

    def _take(self) -> tuple[list[str], int] | None:
        """The next batch, if there is one and none is on its way; under the lock."""
        if not self._pending or self._sending:
            return None
        batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
        self._sending = True
        return batch, self._size

    def _settle(self, batch: list[str]) -> None:
        with self._changed:
            self._settled += len(batch)
            self._sending = False
            self._changed.notify_all()

    def _command(self, batch: list[str], size: int) -> tuple:
        return ("EVAL", _APPEND, 1, self._key, size, *batch)

    @staticmethod
    def _lost(error: Exception) -> None:
        if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
            log.debug("journal entries lost, Redis is unreachable: %s", error)
        else:   # the writer must outlive anything one batch meets
            log.warning("journal entries lost: %s", error)

    async def _write_on_loop(self) -> None:
        owner = bridge.Holdings()
        try:
            while True:
                with self._changed:
                    taken = self._take()
                if taken is None:
                    return       # nothing left, or the thread's batch is on its way (it goes on)
                try:
                    replies = await self._link.send_from(owner, [self._command(*taken)])
                    if isinstance(replies[0], Exception):
                        self._lost(replies[0])
                except Exception as error:
                    self._lost(error)
                finally:
                    self._settle(taken[0])
        finally:
            await owner.give_back()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: (self._pending and not self._sending) or self._closed)
                taken = self._take()
                if taken is None:
                    return
            try:
                self._link.call(*self._command(*taken))
            except Exception as error:
                self._lost(error)
            finally:
                self._settle(taken[0])
