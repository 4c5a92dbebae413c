"""The request journal on Redis, written by one thread per worker in batches.

An entry is written after its request has been answered (web/pipeline.py's observe step), so
nothing waits for it but the next reader. Written one request at a time it was a round trip
per request, as costly as the request's own transaction; here every entry that arrives while a
batch is being written goes out with the next one: one script call (RPUSH of them all, then
LTRIM to the journal's size) per batch. A reader in the same worker first waits for what this
worker has queued, so a client that reads the journal after its answer finds its request there.
Best effort, as before: while Redis is unreachable the entries are lost, never the answers.
"""
from __future__ import annotations

import json
import logging
import threading

import redis

log = logging.getLogger("cancelgate.store")
BATCH = 500            # entries per script call at most (each one is a script argument)
FLUSH_TIMEOUT_S = 5.0

# KEYS[1]: the journal; ARGV[1]: its size, then the entries, oldest first
_APPEND = """
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
return 1
"""


class JournalWriter:
    def __init__(self, link, key: str):
        """`link`: a redis_link.Link (this writer's thread sends on a connection of its own)."""
        self._link = link
        self._key = key
        self._pending: list[str] = []
        self._size = 0
        self._appended = 0      # entries ever queued
        self._settled = 0       # of those, written or given up
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def append(self, entry: dict, size: int) -> None:
        raw = json.dumps(entry, separators=(",", ":"))
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
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cancelgate-journal", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def queued(self) -> int:
        """Entries waiting to be written."""
        with self._changed:
            return len(self._pending)

    def flush(self) -> None:
        """Wait until what this worker had queued when called has been written (or given up
        on); what is queued meanwhile does not keep it waiting."""
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

    def close(self) -> None:
        self.flush()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(FLUSH_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                size = self._size
            try:
                self._link.call("EVAL", _APPEND, 1, self._key, size, *batch)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.debug("journal entries lost, Redis is unreachable: %s", error)
            except Exception as error:   # the writer must outlive anything one batch meets
                log.warning("journal entries lost: %s", error)
            finally:
                with self._changed:
                    self._settled += len(batch)
                    self._changed.notify_all()
