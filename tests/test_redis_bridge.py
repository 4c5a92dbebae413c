"""Redis transactions run on the event loop (store/bridge.py): serial as in threads, the loop free
while they wait, connections left clean whatever the rule does."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from cancelgate.store import bridge
from cancelgate.store.redis_store import RedisStore


def prefix() -> str:
    return f"b-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(redis_url):
    opened = RedisStore(redis_url, {"t": {"n": {"v": 0}, "a": {"v": 1}}}, prefix())
    yield opened
    opened.close()


@pytest.fixture
def other(store, redis_url):
    """Another worker's store on the same namespace."""
    opened = RedisStore(redis_url, None, store.prefix)
    yield opened
    opened.close()


def in_loop(store, coroutine):
    async def main():
        try:
            return await coroutine
        finally:
            await store.aclose()
    return asyncio.run(main())


def test_interleaved_runs_on_one_loop_lose_no_update(store):
    """Fifty runs each read the counter, wait for Redis (so the others read it too), then write:
    every commit that read a value changed meanwhile writes nothing and runs again."""
    attempts = []

    def bump(tx):
        attempts.append(1)
        table = tx.table("t")
        seen = table.get("n")["v"]
        tx.link.call("PING")           # a round trip: the loop runs the other runs meanwhile
        table["n"] = {"v": seen + 1}

    async def all_of_them():
        await asyncio.gather(*(bridge.run(store.transact, bump) for _ in range(50)))
    in_loop(store, all_of_them())
    assert store.transact(lambda tx: tx.table("t").get("n")) == {"v": 50}
    assert len(attempts) > 50          # they did conflict: the check at commit is what kept them apart


def test_a_document_created_or_deleted_after_it_was_read_is_a_conflict(store, other):
    runs = []

    def create_if_absent(tx):
        runs.append(1)
        table = tx.table("t")
        absent = table.get("new") is None
        if len(runs) == 1:             # another writer creates it between our read and our commit
            other.transact(lambda theirs: theirs.table("t").__setitem__("new", {"v": "theirs"}))
        if absent:
            table["new"] = {"v": "ours"}
        table["seen"] = {"v": absent}
    store.transact(create_if_absent)
    assert len(runs) == 2
    assert store.transact(lambda tx: (tx.table("t").get("new"), tx.table("t").get("seen"))) == (
        {"v": "theirs"}, {"v": False})

    runs.clear()

    def copy_a(tx):
        runs.append(1)
        found = tx.table("t").get("a")
        if len(runs) == 1:
            other.transact(lambda theirs: theirs.table("t").pop("a"))
        tx.table("t")["copy"] = {"v": found}
    store.transact(copy_a)
    assert len(runs) == 2 and store.transact(lambda tx: tx.table("t").get("copy")) == {"v": None}


def test_the_loop_serves_others_while_a_run_waits_for_redis(store):
    ticks = []

    def slow_read(tx):
        tx.link.call("BLPOP", f"{store.prefix}:never", 0.3)   # Redis answers after 0.3 s
        return tx.table("t").get("a")

    async def ticker(until):
        while time.monotonic() < until:
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def both():
        started = time.monotonic()
        found, _ = await asyncio.gather(bridge.run(store.transact, slow_read), ticker(started + 0.3))
        return found
    assert in_loop(store, both()) == {"v": 1}
    assert len(ticks) >= 15            # a blocking client would have let it tick once


def test_a_rule_that_raises_leaves_its_connection_watching_nothing(store, other):
    """A scan WATCHes the table's generation; the rule then fails. The next transaction on the
    same held connection commits at once: no WATCH of the failed one is left to fail its EXEC."""
    runs = []

    def scan_then_fail(tx):
        list(tx.table("t").values())
        raise LookupError("the rule refused")

    def write(tx):
        runs.append(1)
        tx.table("t")["after"] = {"v": 1}
        return "done"

    async def both():
        with pytest.raises(LookupError):
            await bridge.run(store.transact, scan_then_fail)
        # the table's generation moves before the failed run's connection is used again
        await asyncio.to_thread(other.transact, lambda theirs: theirs.table("t").__setitem__("x", {"v": 2}))
        return await bridge.run(store.transact, write)
    assert in_loop(store, both()) == "done"
    assert len(runs) == 1
    assert store.transact(lambda tx: tx.table("t").get("after")) == {"v": 1}


def test_journal_entries_appended_on_the_loop_are_written_by_it_in_order(store):
    """The server appends after each answer, on its loop: a task there writes them (no thread),
    batch after batch in order, and closing the store's loop side waits for the last batch."""
    async def requests_answered():
        for n in range(300):
            store.journal_append({"n": n}, 1000)
            if n % 7 == 0:
                await asyncio.sleep(0)          # batches go out while more arrive
        await store.aclose()
    asyncio.run(requests_answered())
    assert store._journal._thread is None
    assert store._journal.queued() == 0
    assert [entry["n"] for entry in store.journal_entries()] == list(range(300))


def test_a_connection_redis_closed_while_idle_is_replaced_before_a_commit(store, redis_url):
    """Redis restarts, or its `timeout` closes idle clients: the next transaction, even one that
    only writes (its first command is the commit), opens a new connection and commits."""
    import redis as redis_py
    killer = redis_py.Redis.from_url(redis_url)

    def client_id(tx):
        tx.table("t").get("a")
        return tx.link.call("CLIENT", "ID")

    def write_only(tx):
        tx.table("t")["w"] = {"v": "kept"}

    async def on_the_loop():
        killer.client_kill_filter(_id=await bridge.run(store.transact, client_id))
        await asyncio.sleep(0.05)      # the loop reads the end of the stream on the idle connection
        await bridge.run(store.transact, write_only)
    try:
        in_loop(store, on_the_loop())                                  # a bridge run's connection
        killer.client_kill_filter(_id=store.transact(client_id))       # a thread's own connection
        store.transact(lambda tx: tx.table("t").__setitem__("w2", {"v": "kept"}))
        assert store.transact(lambda tx: (tx.table("t").get("w"), tx.table("t").get("w2"))) == (
            {"v": "kept"}, {"v": "kept"})
    finally:
        killer.close()


def test_the_web_layer_runs_at_most_its_bound_of_transactions_at_once(store):
    """Every request in flight would otherwise hold a connection and a transaction of its own:
    on one busy document (a vault's rate-limit counters) that is a storm of conflicts."""
    from cancelgate.web.dispatch import Offload
    offload = Offload(bridged=True, runs=4)
    running, most = [0], [0]

    def one(tx):
        running[0] += 1
        most[0] = max(most[0], running[0])
        try:
            table = tx.table("t")
            seen = table.get("n")["v"]
            tx.link.call("PING")
            table["n"] = {"v": seen + 1}
        finally:
            running[0] -= 1

    async def many():
        await asyncio.gather(*(offload.run(store.transact, one) for _ in range(40)))
    in_loop(store, many())
    assert most[0] == 4
    assert store.transact(lambda tx: tx.table("t").get("n")) == {"v": 40}


def test_closing_on_the_loop_never_waits_for_the_loop(store):
    """The lifespan's end: `aclose` writes what was queued; an entry appended after it is
    dropped, and `close` on the loop returns at once instead of waiting for the loop's task."""
    async def shutdown():
        store.journal_append({"n": 1}, 100)
        await store.aclose()
        store.journal_append({"n": 2}, 100)
        started = time.monotonic()
        store.close()
        return time.monotonic() - started
    assert asyncio.run(shutdown()) < 1
    reader = RedisStore(store._link._url, None, store.prefix)
    try:
        assert [entry["n"] for entry in reader.journal_entries()] == [1]
    finally:
        reader.close()


def test_a_redis_that_stops_answering_is_unreachable_within_the_deadline_and_the_loop_serves_on(tmp_path):
    """Redis frozen mid-session (SIGSTOP): the transaction gives up after its round trip's
    deadline, on a new connection too, and answers Redis unreachable; the loop ticks on."""
    import os
    import signal

    from cancelgate.store.protocol import StoreUnavailable
    from tests.conftest import start_redis
    url, process = start_redis(tmp_path)
    frozen = RedisStore(url, {"t": {"a": {"v": 1}}}, prefix())
    frozen._link._timeout = 0.5          # the 5 s default, shortened for the test
    ticks = []

    async def main():
        await bridge.run(frozen.transact, lambda tx: tx.table("t").get("a"))   # its connection is open
        os.kill(process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            waiting = asyncio.ensure_future(bridge.run(frozen.transact, lambda tx: tx.table("t").get("a")))
            while not waiting.done():
                ticks.append(1)
                await asyncio.sleep(0.01)
            with pytest.raises(StoreUnavailable):
                await waiting
            return time.monotonic() - started
        finally:
            os.kill(process.pid, signal.SIGCONT)
    try:
        took = asyncio.run(main())
        assert 0.9 < took < 4             # two attempts of 0.5 s (the first, then a new connection)
        assert len(ticks) >= 40
        assert frozen.transact(lambda tx: tx.table("t").get("a")) == {"v": 1}   # and back once Redis is
    finally:
        frozen.close()
        process.terminate()
        process.wait(timeout=20)
