"""Synchronous store code run on the event loop, its network waits awaited there.

The rules and `transact` are plain functions: a rule reads and writes as it decides, and a
conflict runs it again. On Redis every read is a round trip. Run in a thread pool, each request
paid two thread handoffs and the threads' fight for the GIL (on 2 cores, most of a Redis
request's CPU). `run(fn)` instead runs `fn` in a greenlet on the loop's own thread; where it
would wait for Redis (redis_link.Link) or sleep, it hands the awaitable to `run`, which awaits
it on the loop and switches back with the result. Other requests run meanwhile, so one worker
overlaps the waits of many, and nothing blocks the loop. (SQLAlchemy's asyncio support runs its
synchronous core the same way.)
"""
from __future__ import annotations

import asyncio
import contextvars
import time
import typing as t

import greenlet


class Holdings:
    """What a run on the loop holds (a Redis connection per Link: redis_link.py), and how each
    is given back when the run ends."""

    def __init__(self):
        self.held: dict = {}
        self.at_exit: list[t.Callable[[], t.Awaitable]] = []

    async def give_back(self) -> None:
        for release in self.at_exit:
            await release()


class _Task(Holdings, greenlet.greenlet):
    """One `run`."""

    def __init__(self, fn):
        greenlet.greenlet.__init__(self, fn)
        Holdings.__init__(self)


def current() -> _Task | None:
    """The `run` this code is inside, or None (a thread, or plain code on the loop)."""
    task = greenlet.getcurrent()
    return task if isinstance(task, _Task) else None


def wait(awaitable: t.Awaitable) -> t.Any:
    """From inside `run`: the awaitable's result, awaited on the loop."""
    return greenlet.getcurrent().parent.switch(awaitable)


def sleep(seconds: float) -> None:
    """A pause that, inside `run`, lets the loop serve others (a conflict's backoff)."""
    if current() is not None:
        wait(asyncio.sleep(seconds))
    else:
        time.sleep(seconds)


def blocking(fn: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
    """`fn(*args)` that blocks on its own (a reset's pipeline): inside `run`, in a thread."""
    if current() is not None:
        return wait(asyncio.to_thread(fn, *args))
    return fn(*args)


async def run(fn: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
    """`fn(*args)` in a greenlet of its own with a copy of the caller's context (the request's
    notes and touched keys go along), its waits awaited here."""
    task = _Task(lambda: fn(*args))
    task.gr_context = contextvars.copy_context()
    try:
        step = task.switch()
        while not task.dead:
            try:
                value = await step
            except BaseException as error:   # a failed wait (or a cancel) is raised where it waited
                step = task.throw(error)
            else:
                step = task.switch(value)
        return step
    finally:
        await task.give_back()
