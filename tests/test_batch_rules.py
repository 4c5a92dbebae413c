"""The Batch rules called directly on plain dicts: no server, no store."""
from __future__ import annotations

import pytest

from cancelgate.families import paging
from cancelgate.families.batch import rules
from cancelgate.families.batch.indexes import INDEXES
from cancelgate.store.indexes import IndexedDict
from cancelgate.errors import ApiError

NOW = 5_000


def job(job_id: str, status: str, **fields) -> dict:
    return {"jobId": job_id, "jobName": job_id, "jobQueue": "q", "jobDefinition": "d",
            "status": status, "createdAt": 1, "dependsOn": [], **fields}


def table(*jobs: dict) -> IndexedDict:
    return IndexedDict(INDEXES, rules.link_dependents({j["jobId"]: j for j in jobs}))


def test_submitted_fails_with_reason_and_time():
    jobs = table(job("a", "SUBMITTED"))
    rules.stop_job(jobs, "a", "why", NOW, terminate=False)
    assert jobs["a"] | {} == {**job("a", "SUBMITTED"), "status": "FAILED", "statusReason": "why",
                              "stoppedAt": NOW, "isCancelled": True}


def test_recorded_cancel_is_kept_by_a_second_one():
    jobs = table(job("a", "RUNNABLE"))
    rules.stop_job(jobs, "a", "first", NOW, terminate=False)
    rules.stop_job(jobs, "a", "second", NOW, terminate=True)
    assert jobs["a"]["_stop"] == {"reason": "first"}
    assert rules.move_head(jobs, "q", NOW + 1, [])["statusReason"] == "first"


def test_dependency_chain_fails_in_order():
    jobs = table(job("a", "RUNNING"), job("b", "PENDING", dependsOn=[{"jobId": "a"}]),
                 job("c", "PENDING", dependsOn=[{"jobId": "b"}]))
    rules.stop_job(jobs, "c", "c", NOW, terminate=False)
    rules.stop_job(jobs, "b", "b", NOW, terminate=False)
    assert (jobs["b"]["status"], jobs["c"]["status"]) == ("PENDING", "PENDING")
    rules.stop_job(jobs, "a", "a", NOW, terminate=True)
    assert [jobs[x]["status"] for x in "abc"] == ["FAILED"] * 3
    assert jobs["a"]["isTerminated"] and jobs["b"]["isCancelled"] and jobs["c"]["isCancelled"]
    assert jobs["c"]["statusReason"] == "c"


def test_dependency_that_is_gone_does_not_block():
    jobs = table(job("b", "PENDING", dependsOn=[{"jobId": "missing"}]))
    rules.stop_job(jobs, "b", "r", NOW, terminate=False)
    assert jobs["b"]["status"] == "FAILED"


def test_finished_jobs_are_not_written():
    class Untouchable(IndexedDict):
        def __setitem__(self, key, value):
            raise AssertionError(f"wrote {key}")
    jobs = Untouchable(INDEXES, table(job("a", "SUCCEEDED"), job("b", "FAILED")))
    for terminate in (False, True):
        rules.stop_job(jobs, "a", "r", NOW, terminate=terminate)
        rules.stop_job(jobs, "b", "r", NOW, terminate=terminate)
        rules.stop_job(jobs, "unknown", "r", NOW, terminate=terminate)


def test_cancel_leaves_running_alone_terminate_stops_it():
    jobs = table(job("a", "RUNNING"))
    rules.stop_job(jobs, "a", "r", NOW, terminate=False)
    assert jobs["a"] == job("a", "RUNNING")
    rules.stop_job(jobs, "a", "r", NOW, terminate=True)
    assert jobs["a"]["isTerminated"] and "isCancelled" not in jobs["a"]


def test_dispatch_orders_by_priority_then_age_then_id():
    jobs = table(job("x", "RUNNABLE", createdAt=3), job("y", "RUNNABLE", createdAt=2),
                 job("z", "RUNNABLE", createdAt=9, schedulingPriority=1), job("w", "RUNNING"))
    assert [rules.move_head(jobs, "q", NOW, [])["jobId"] for _ in range(3)] == ["z", "y", "x"]
    assert rules.move_head(jobs, "q", NOW, []) is None


def test_bulk_reports_malformed_ids_and_counts_unknown_as_successful():
    jobs = table(job("00000000-0000-4000-8000-000000000001", "SUBMITTED"))
    answer = rules.stop_jobs(jobs, ["00000000-0000-4000-8000-000000000001", "nope",
                                    "00000000-0000-4000-8000-000000000002"], "r", NOW, terminate=False)
    assert answer["successful"] == ["00000000-0000-4000-8000-000000000001",
                                    "00000000-0000-4000-8000-000000000002"]
    assert [e["job"] for e in answer["errors"]] == ["nope"]


def test_submit_refuses_unknown_dependency_and_writes_nothing():
    jobs = table()
    with pytest.raises(ApiError) as raised:
        rules.submit(jobs, {"jobName": "n", "jobQueue": "q", "jobDefinition": "d",
                            "dependsOn": [{"jobId": "ghost"}]}, NOW, "new", str)
    assert raised.value.code == "ClientException"
    assert jobs == {}


def test_submit_links_dependents_both_ways():
    jobs = table(job("a", "RUNNING"))
    rules.submit(jobs, {"jobName": "n", "jobQueue": "q", "jobDefinition": "d",
                        "dependsOn": [{"jobId": "a"}]}, NOW, "b", str)
    assert jobs["a"]["_dependents"] == ["b"]
    assert "_dependents" not in rules.public(jobs, jobs["a"])


def test_list_tokens_round_trip_and_bad_token_is_client_error():
    assert paging.decode(paging.encode(42), "ClientException") == 42
    with pytest.raises(ApiError):
        paging.decode("garbage!", "ClientException")


def test_dispatch_by_hand_then_the_lifecycle_keeps_times_moving_forward():
    """The control plane's dispatch and the lifecycle's are one move: STARTING begins at the
    dispatch, so the next step does not start the job at its old RUNNABLE time."""
    from cancelgate.families.batch import lifecycle
    from cancelgate.families.batch.world import World
    config = {"durations": {"SUBMITTED": 1, "PENDING": 1, "STARTING": 2, "RUNNING": 10},
              "capacity": {"default": 5}}
    jobs = table({"jobId": "r", "jobQueue": "q", "status": "RUNNABLE", "createdAt": 0, "_since": 0})
    world = World(jobs, {}, {}, {}, {})   # a queue with no environment: the lifecycle file's capacity
    changes: list = []
    assert rules.move_head(jobs, "q", 10_000, changes)["status"] == "STARTING"
    assert changes == [{"id": "r", "from": "RUNNABLE", "to": "STARTING", "at": 10_000}]
    assert lifecycle.lifecycle_step(world, 10_001, config) == []
    assert lifecycle.lifecycle_step(world, 12_000, config) == [
        {"id": "r", "from": "STARTING", "to": "RUNNING", "at": 12_000}]
    assert jobs["r"]["startedAt"] == 12_000
