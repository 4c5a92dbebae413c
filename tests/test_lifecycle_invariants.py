"""Random sequences of operations and clock advances on the Batch rules, checked for invariants:
no job leaves a finished status, a job with a cancel recorded never reaches STARTING, times never
go backwards, the store's indexes always agree with what a full scan of the jobs gives, and the
lifecycle (which reads stored documents uncopied) changes no document it does not write.

The operations run as the server runs them: each one a transaction of a real store (TinyDB, and
Redis where a redis-server is at hand), on the world the Batch family opens over it."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cancelgate.families import indexes as family_indexes
from cancelgate.families.batch import JOBS, TABLES, lifecycle, lifecycle_world, rules, world_of
from cancelgate.families.batch.indexes import INDEXES
from cancelgate.store.indexes import IndexedDict, build, key_of
from cancelgate.store.redis_store import RedisStore
from cancelgate.store.tinydb_store import TinyStore

CONFIG = {"durations": {"SUBMITTED": 1, "PENDING": 1, "STARTING": 2, "RUNNING": 5},
          "capacity": {"default": 1, "queues": {}}}
IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(6)]
STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]
TIMES = ("createdAt", "startedAt", "stoppedAt")

operation = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(IDS), st.lists(st.sampled_from(IDS), max_size=2),
              st.sampled_from([None, 2, 3]),
              # an attempt timeout shorter than RUNNING lasts, and retries: the lifecycle's retry branch
              st.sampled_from([None, 1, 3]), st.sampled_from([None, 2])),
    st.tuples(st.just("cancel"), st.sampled_from(IDS)),
    st.tuples(st.just("terminate"), st.sampled_from(IDS)),
    st.tuples(st.just("put"), st.sampled_from(IDS), st.sampled_from(STATUSES), st.integers(0, 9)),
    st.tuples(st.just("dispatch"),),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=7_000)),
)


def _scanned(jobs: dict) -> dict:
    """Every index as a rebuild from all the documents gives it: name -> group -> keys in order."""
    committed = build(INDEXES, jobs.items())
    return {index.name: {group: [key_of(m) for m in committed.ordered(index.name, group)]
                         for group in committed.groups(index.name)} for index in INDEXES}


def _indexed(tx_jobs) -> dict:
    """The same, as a transaction reads it through the store's indexes."""
    return {index.name: {group: tx_jobs.ordered(index.name, group) for group in tx_jobs.groups(index.name)}
            for index in INDEXES}


def _stored(store, tables=(JOBS,)) -> dict:
    """(table, key) -> document, each the caller's own copy."""
    return store.transact(lambda tx: {(table, key): doc for table in tables for key, doc in tx.table(table).items()})


def _lifecycle(store, rule):
    """`rule(world)` in one transaction on the scheduler's view (stored documents uncopied),
    checked to leave every document it did not write as it was."""
    written: set = set()

    def run(tx):
        result = rule(lifecycle_world(tx))
        written.update((table, key) for table, docs in tx.writes.items() for key in docs)
        return result
    before = _stored(store, TABLES)
    result = store.transact(run)
    after = _stored(store, TABLES)
    assert ({k: v for k, v in after.items() if k not in written}
            == {k: v for k, v in before.items() if k not in written}), "the lifecycle changed what it read"
    return result


def _step(store, at: int) -> None:
    # small batches, as the scheduler runs them, so a step that stops midway is covered too
    while len(_lifecycle(store, lambda world: lifecycle.lifecycle_step(world, at, CONFIG, 3))) >= 3:
        pass


def _advance(store, now: int, target: int) -> int:
    for _ in range(1000):
        due = _lifecycle(store, lambda world: lifecycle.lifecycle_next(world, CONFIG))
        if due is None or due > target:
            break
        now = max(now, due)
        _step(store, now)
    _step(store, target)
    return target


def _apply(store, op: tuple, now: int) -> None:
    def run(tx):
        world = world_of(tx)
        jobs = world.jobs
        if op[0] == "submit":
            _, job_id, deps, size, timeout, attempts = op
            if jobs.get(job_id) is not None:
                return
            known = [{"jobId": d} for d in deps if jobs.get(d) is not None and d != job_id]
            request = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "dependsOn": known}
            if size:
                request["arrayProperties"] = {"size": size}
            if timeout:
                request["timeout"] = {"attemptDurationSeconds": timeout}
            if attempts:
                request["retryStrategy"] = {"attempts": attempts}
            rules.submit(jobs, request, now, job_id, str)
        elif op[0] in ("cancel", "terminate"):
            rules.stop_job(jobs, op[1], op[0], now, terminate=op[0] == "terminate")
        elif op[0] == "put":   # the control plane: a plain job in any status
            _, job_id, status, priority = op
            previous = jobs.get(job_id)
            if previous is not None and (rules.is_array_parent(previous) or status in rules.FINISHED):
                return
            rules.put_job(jobs, {"jobId": job_id, "jobName": "j", "jobQueue": "q", "jobDefinition": "d",
                                 "status": status, "createdAt": now, "dependsOn": [],
                                 "schedulingPriority": priority}, now)
        else:
            rules.move_head(jobs, "q", now, [], "us-east-1")
    store.transact(run)


def _check(store, seen: dict, cancel_recorded: set) -> None:
    jobs = {key: doc for (_, key), doc in _stored(store).items()}
    assert store.transact(lambda tx: _indexed(tx.table(JOBS))) == _scanned(jobs)
    for job_id, stored in jobs.items():
        job = {k: v for k, v in stored.items() if not k.startswith("_")}   # as clients see it
        before = seen.get(job_id)
        if before is not None and before["status"] in rules.FINISHED:
            assert job == {k: v for k, v in before.items() if k != "_since"}, f"{job_id} left a finished status"
        if before is not None and job["status"] not in rules.FINISHED and before["status"] not in rules.FINISHED:
            assert stored["_since"] >= before["_since"], f"{job_id}: time went backwards"
        for field in TIMES:
            if before is not None and field in before and field in job and before["status"] == job["status"]:
                assert job[field] >= before[field], f"{job_id}: {field} went backwards"
        if "startedAt" in job and "stoppedAt" in job:
            assert job["stoppedAt"] >= job["startedAt"]
        parent = jobs.get(job_id.rsplit(":", 1)[0]) if ":" in job_id else None
        if "_stop" in stored or (parent is not None and "_stop" in parent and job["status"] in rules.NOT_STARTED):
            cancel_recorded.add(job_id)   # its own cancel, or its array parent's
        if job_id in cancel_recorded:
            assert job["status"] in ("SUBMITTED", "PENDING", "RUNNABLE", "FAILED"), job
            assert "startedAt" not in job
        seen[job_id] = {**job, "_since": stored.get("_since", 0)}


def _run(store, operations) -> None:
    now = 1_000_000
    seen: dict = {}
    cancel_recorded: set = set()
    for op in operations:
        if op[0] == "advance":
            now = _advance(store, now, now + op[1])
        else:
            if op[0] == "put":
                cancel_recorded.discard(op[1])   # a job put anew starts a fresh life
                seen.pop(op[1], None)
            _apply(store, op, now)
        _check(store, seen, cancel_recorded)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=30))
def test_invariants_hold_for_any_sequence_on_the_embedded_store(operations):
    _run(TinyStore(None, {}, indexes=family_indexes()), operations)


@pytest.mark.slow
def test_invariants_hold_on_redis(redis_url):
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.function_scoped_fixture])
    @given(st.lists(operation, max_size=20))
    def check(operations):
        store = RedisStore(redis_url, {}, f"inv-{uuid.uuid4().hex[:8]}", indexes=family_indexes())
        try:
            _run(store, operations)
        finally:
            store.close()
    check()


def test_an_indexed_dict_agrees_with_a_rebuild_after_any_writes():
    jobs = IndexedDict(INDEXES)
    rules.submit(jobs, {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "dependsOn": []}, 5, IDS[0], str)
    rules.submit(jobs, {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "dependsOn": [],
                        "arrayProperties": {"size": 3}}, 6, IDS[1], str)
    rules.stop_job(jobs, IDS[1], "r", 7, terminate=False)
    assert _indexed(jobs) == _scanned(dict(jobs))
