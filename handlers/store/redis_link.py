"""Commands sent on a connection held for a whole transaction or thread, not per command.

Through `redis.Redis`, every command takes a connection from the pool and gives it back, and
passes the client's retry and instrumentation layers: on this 2-core machine about 110 µs of
CPU per command, against some 30 µs for sending it on a connection and reading the reply
(redis-py 8.1). A CancelJob on Redis is a few commands, so that was most of its cost. Here
commands go out with redis-py's own `Connection.pack_commands`, `send_packed_command` and
`read_response`, the calls its pipelines make, on:
- inside `bridge.run` (the web layer's requests): a connection of redis-py's asyncio pool,
  taken at the first command and given back when the run ends, every wait awaited on the loop;
- anywhere else (the scheduler's and the journal's threads, tests): a connection of the
  client's pool that the thread keeps for its life.
"""
from __future__ import annotations

import asyncio
import threading
import weakref

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff

from cancelgate.store import bridge

_LOST = (redis.ConnectionError, redis.TimeoutError)
READ_ATTEMPTS = 4                      # as the client's Retry(..., 3): the first and three more
_BACKOFF = ExponentialBackoff(cap=0.5, base=0.01)


class _Held:
    """A thread's connection; handed back to the pool when the thread's locals go."""

    def __init__(self, pool: redis.ConnectionPool):
        self.connection = pool.get_connection()
        weakref.finalize(self, pool.release, self.connection)


class Link:
    def __init__(self, pool: redis.ConnectionPool, url: str, **options):
        """`pool`: the client's, for threads; the asyncio pool is made from `url` and
        `options` (the same connection settings) when a `bridge.run` first sends."""
        self._pool = pool
        self._local = threading.local()
        self._url = url
        self._options = options
        self._async_pool: redis.asyncio.ConnectionPool | None = None
        self._idle: list = []
        self._timeout = options.get("socket_timeout") or 5

    def _connection(self):
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self._pool)
        return held.connection

    async def _async_connection(self, task):
        connection = task.held.get(self)
        if connection is None:
            if self._idle:
                connection = self._idle.pop()
            else:
                if self._async_pool is None:
                    self._async_pool = redis.asyncio.ConnectionPool.from_url(
                        self._url, **{**self._options, "socket_timeout": None})
                connection = self._async_pool.make_connection()   # connects at its first command
            task.held[self] = connection
            task.at_exit.append(lambda: self._give_back(connection))
        return connection

    async def _give_back(self, connection) -> None:
        # The runs' own free list: the asyncio pool's get_connection and release were a tenth
        # of a Redis request's CPU (its lock, argument checks and a health check each time).
        self._idle.append(connection)

    def send(self, commands: list[tuple]) -> list:
        """The commands in one write, and each one's reply in order; an error reply is the
        ResponseError in its place (inside an EXEC's reply too). If the connection fails it is
        closed (the next command opens a new one) and the error is raised: what was sent may
        or may not have run."""
        task = bridge.current()
        if task is not None:
            return bridge.wait(self._send_async(task, commands))
        connection = self._connection()
        try:
            connection.send_packed_command(connection.pack_commands(commands), check_health=False)
            replies = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as error:
                    replies.append(error)
            return replies
        except _LOST:
            connection.disconnect()
            raise

    async def send_from(self, owner, commands: list[tuple]) -> list:
        """`send` for a coroutine on the loop: on the connection `owner` holds (anything with
        `held` and `at_exit` as a bridge run has; it gives the connection back by awaiting
        each of its `at_exit` when it ends)."""
        return await self._send_async(owner, commands)

    async def _send_async(self, task, commands: list[tuple]) -> list:
        connection = await self._async_connection(task)
        try:
            # One deadline for the round trip. The connections have no socket timeout of their
            # own: with one, redis-py's asyncio connection wraps every send in `wait_for` (a
            # task each in Python 3.11) and every read in a timeout context.
            async with asyncio.timeout(self._timeout):
                await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
                replies = []
                for _ in commands:
                    try:
                        replies.append(await connection.read_response())
                    except redis.ResponseError as error:
                        replies.append(error)
            return replies
        except TimeoutError:
            await connection.disconnect()
            raise redis.TimeoutError(f"Redis did not answer within {self._timeout:g} s") from None
        except BaseException:   # lost, or cancelled with replies unread: never used again as it is
            await connection.disconnect()
            raise

    def call(self, *args):
        """One command's reply; an error reply is raised."""
        reply = self.send([args])[0]
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    def read(self, *args):
        """A command that changes nothing (or may run twice), sent again on a new connection if
        the connection drops: a dropped connection is not an outage."""
        for failures in range(1, READ_ATTEMPTS + 1):
            try:
                return self.call(*args)
            except _LOST:
                if failures == READ_ATTEMPTS:
                    raise
                bridge.sleep(_BACKOFF.compute(failures))

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().disconnect()
