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


IDLE_KEPT = 32                         # asyncio connections kept between runs, at most


class _Held:
    """A connection held for a scope (a thread's life, a bridge run), and how many times it
    has been lost there: WATCHes die with a connection, so a transaction that WATCHed checks
    this count before it commits (RedisTx)."""

    def __init__(self, connection, release=None):
        self.connection = connection
        self.drops = 0
        if release is not None:
            weakref.finalize(self, release, connection)


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

    def _held(self) -> _Held:
        held = getattr(self._local, "held", None)
        if held is None:   # the thread's, handed back to the pool when the thread's locals go
            held = self._local.held = _Held(self._pool.get_connection(), self._pool.release)
        connection = held.connection
        # what redis-py's pool checks as it hands a connection out: one Redis closed while it
        # sat idle (a restart, its `timeout`, CLIENT KILL) reads as ready; open a new one (its
        # WATCHes, if any, are gone with the old one: a drop)
        try:
            closed = connection._sock is not None and connection.can_read()
        except _LOST:            # it read the end of the stream
            closed = True
        if closed:
            held.drops += 1
            connection.disconnect()
        return held

    async def _async_held(self, task) -> _Held:
        held = task.held.get(self)
        if held is None:
            if self._idle:
                connection = self._idle.pop()   # closed by Redis while idle: see _send_async
            else:
                if self._async_pool is None:
                    self._async_pool = redis.asyncio.ConnectionPool.from_url(
                        self._url, **{**self._options, "socket_timeout": None})
                connection = self._async_pool.make_connection()   # connects at its first command
            held = task.held[self] = _Held(connection)
            task.at_exit.append(lambda: self._give_back(connection))
        return held

    async def _give_back(self, connection) -> None:
        # The runs' own free list: the asyncio pool's get_connection and release were a tenth
        # of a Redis request's CPU (its lock, argument checks and a health check each time).
        if len(self._idle) < IDLE_KEPT:
            self._idle.append(connection)
        else:
            await connection.disconnect()

    def drops(self) -> int:
        """How many times this scope's connection has been lost so far."""
        task = bridge.current()
        held = self._local.__dict__.get("held") if task is None else task.held.get(self)
        return 0 if held is None else held.drops

    @staticmethod
    def _same(held: _Held, watching: int | None) -> None:
        if watching is not None and held.drops != watching:
            raise redis.WatchError("the connection that held this transaction's WATCHes was lost")

    def send(self, commands: list[tuple], watching: int | None = None) -> list:
        """The commands in one write, and each one's reply in order; an error reply is the
        ResponseError in its place (inside an EXEC's reply too). If the connection fails it is
        closed (the next command opens a new one) and the error is raised: what was sent may
        or may not have run. `watching`: the drop count when this scope's WATCHes were made; if
        the connection has been lost since, nothing is sent and WatchError is raised."""
        task = bridge.current()
        if task is not None:
            return bridge.wait(self._send_async(task, commands, watching))
        held = self._held()
        self._same(held, watching)
        connection = held.connection
        try:
            connection.send_packed_command(connection.pack_commands(commands), check_health=False)
            replies = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as error:
                    replies.append(error)
            return replies
        except BaseException:   # lost, or interrupted with replies unread: never used again as it is
            held.drops += 1
            connection.disconnect()
            raise

    async def send_from(self, owner, commands: list[tuple]) -> list:
        """`send` for a coroutine on the loop: on the connection `owner` (bridge.Holdings)
        holds until its `give_back`."""
        return await self._send_async(owner, commands)

    async def _send_async(self, task, commands: list[tuple], watching: int | None = None) -> list:
        held = await self._async_held(task)
        connection = held.connection
        # Redis closed it meanwhile (while idle, or since the run's last command): the loop has
        # fed its reader the end of the stream (redis-py 5.3 to 8.1 keep it as `_reader`)
        if connection.is_connected and connection._reader.at_eof():
            held.drops += 1
            await connection.disconnect()
        self._same(held, watching)
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
            held.drops += 1
            await connection.disconnect()
            raise redis.TimeoutError(f"Redis did not answer within {self._timeout:g} s") from None
        except BaseException:   # lost, or cancelled with replies unread: never used again as it is
            held.drops += 1
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
