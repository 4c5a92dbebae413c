"""The job engine's own corner cases, on the Batch rules and the indexes they run on: a failed
dependency, array parents finishing only when every child has, documents no index may choke on."""
from __future__ import annotations

import math

import pytest

from cancelgate.errors import ApiError
from cancelgate.families.batch import attempts, lifecycle, rules, submission
from cancelgate.families.batch.indexes import INDEXES
from cancelgate.families.batch.world import World
from cancelgate.store.indexes import IndexedDict, num

A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
BASE = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "createdAt": 0, "dependsOn": []}
CONFIG = {"durations": {"SUBMITTED": 0, "PENDING": 5, "STARTING": 0, "RUNNING": 100}, "capacity": {"default": 10}}


def world(docs: dict | None = None) -> tuple[IndexedDict, World]:
    jobs = IndexedDict(INDEXES, rules.link_dependents(docs or {}))
    return jobs, World(jobs, {}, {}, {}, {})


def test_a_failed_dependency_fails_a_waiting_job_when_it_fails_not_a_pending_duration_later():
    jobs, w = world()
    rules.put_job(jobs, {**BASE, "jobId": A, "status": "RUNNING", "startedAt": 0}, 0)
    rules.put_job(jobs, {**BASE, "jobId": B, "status": "PENDING", "dependsOn": [{"jobId": A}]}, 0)
    assert lifecycle.lifecycle_step(w, 6000, CONFIG) == []         # B looked at: waits for A
    attempts.exit_running(jobs, A, 1, None, 10_000)                  # A fails at 10 s
    assert lifecycle.lifecycle_next(w, CONFIG) == 10_000
    moves = lifecycle.lifecycle_step(w, 10_000, CONFIG)
    assert [(m["id"], m["to"], m["at"]) for m in moves] == [(B, "FAILED", 10_000)]
    assert jobs[B]["stoppedAt"] == 10_000 and A in jobs[B]["statusReason"]


def test_a_job_entering_pending_after_its_dependency_failed_fails_at_once():
    jobs, w = world()
    rules.put_job(jobs, {**BASE, "jobId": A, "status": "FAILED", "stoppedAt": 1}, 1)
    rules.put_job(jobs, {**BASE, "jobId": B, "status": "SUBMITTED", "dependsOn": [{"jobId": A}]}, 1000)
    moves = lifecycle.lifecycle_step(w, 1000, CONFIG)
    assert [(m["to"], m["at"]) for m in moves] == [("PENDING", 1000), ("FAILED", 1000)]


def test_an_array_parent_put_before_its_running_children_waits_for_them():
    jobs, w = world()
    rules.put_job(jobs, {**BASE, "jobId": A, "status": "PENDING", "arrayProperties": {"size": 2}}, 0)
    for i in range(2):
        rules.put_job(jobs, {**BASE, "jobId": f"{A}:{i}", "status": "RUNNING", "startedAt": 0,
                             "arrayProperties": {"index": i}}, 0)
    lifecycle.lifecycle_step(w, 1, CONFIG)
    assert jobs[A]["status"] == "PENDING"
    lifecycle.lifecycle_step(w, 100_000, CONFIG)                     # both children succeed
    assert (jobs[A]["status"], jobs[A]["stoppedAt"]) == ("SUCCEEDED", 100_000)


def test_a_child_put_back_to_work_keeps_its_parent_open():
    jobs, w = world()
    rules.put_job(jobs, {**BASE, "jobId": A, "status": "PENDING", "arrayProperties": {"size": 1}}, 0)
    rules.put_job(jobs, {**BASE, "jobId": f"{A}:0", "status": "SUCCEEDED", "arrayProperties": {"index": 0}}, 0)
    rules.put_job(jobs, {**BASE, "jobId": f"{A}:0", "status": "RUNNING", "startedAt": 0,
                         "arrayProperties": {"index": 0}}, 0)
    lifecycle.lifecycle_step(w, 1, CONFIG)
    assert jobs[A]["status"] == "PENDING"


def test_fixtures_with_every_child_finished_finish_their_parent():
    docs = {A: {**BASE, "jobId": A, "status": "PENDING", "arrayProperties": {"size": 2}, "_since": 0}}
    for i in range(2):
        docs[f"{A}:{i}"] = {**BASE, "jobId": f"{A}:{i}", "status": "SUCCEEDED", "stoppedAt": 7,
                            "arrayProperties": {"index": i}}
    jobs, w = world(docs)
    assert lifecycle.lifecycle_next(w, CONFIG) == 7
    lifecycle.lifecycle_step(w, 10, CONFIG)
    assert jobs[A]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("odd", [
    {"_since": math.inf}, {"_since": float("nan")}, {"createdAt": 2**63}, {"schedulingPriority": -2**63},
    {"_vcpus": math.inf}, {"_vcpus": 1e30}, {"_vcpus": "two"}, {"_ready_at": "later"},
    {"arrayProperties": "size"}, {"timeout": {"attemptDurationSeconds": 2**70}, "startedAt": 0},
])
@pytest.mark.parametrize("status", ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])
def test_no_index_raises_or_gives_a_keyless_entry_for_an_odd_document(odd, status):
    doc = {**BASE, "jobId": A, "status": status, "_since": 0, **odd}
    for index in INDEXES:
        entry = index.entry(doc)
        assert entry is None or (isinstance(entry[0], str) and isinstance(entry[1], str)), (index.name, entry)


@pytest.mark.parametrize("index", [i for i in INDEXES if i.statuses is not None], ids=lambda i: i.name)
@pytest.mark.parametrize("status", ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                                    "FAILED"])
def test_an_index_that_names_its_statuses_places_no_job_in_another(index, status):
    # a write skips an index whose statuses do not hold the document's (store/indexes.Undoable)
    job = {**BASE, "jobId": A, "status": status, "_since": 0}
    docs = [{**job, "startedAt": 0, "timeout": {"attemptDurationSeconds": 5}},
            {**job, "jobId": f"{A}:3", "arrayProperties": {"index": 3, "size": 4}},
            {**job, "arrayProperties": {"size": 4}, "_children_done": 9}]
    placed = [index.entry(doc) is not None for doc in docs]
    assert any(placed) if status in index.statuses else not any(placed)


def test_num_orders_as_the_numbers_and_refuses_what_it_cannot_order():
    values = [-2**61, -5, 0, 3, 2**61]
    assert sorted(values, key=num) == values
    assert [num(v) for v in (math.inf, float("nan"), 2**63, True, "1")] == [None] * 5


def test_a_vcpu_value_that_is_no_finite_number_is_a_client_exception():
    for value in ("inf", "1e30", "nan"):
        with pytest.raises(ApiError) as refused:
            submission.vcpus_of({"resourceRequirements": [{"type": "VCPU", "value": value}]})
        assert refused.value.code == "ClientException"
    assert submission.vcpus_of({"resourceRequirements": [{"type": "VCPU", "value": "0.25"}]}) == 0.25


def test_an_advance_leaves_the_garbage_collector_as_it_found_it():
    import gc
    import threading

    from cancelgate.scheduler import collector_paused
    assert gc.isenabled()
    first_in, second_out = threading.Event(), threading.Event()

    def overlapping():   # a second advance, in another thread, that ends after the first one
        with collector_paused():
            first_in.set()
            second_out.wait(5)
    other = threading.Thread(target=overlapping)
    with collector_paused():
        assert not gc.isenabled()
        other.start()
        assert first_in.wait(5)
    assert not gc.isenabled()   # the other advance still runs
    second_out.set()
    other.join(5)
    assert gc.isenabled()
    gc.disable()   # turned off by someone else: an advance does not turn it on
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
