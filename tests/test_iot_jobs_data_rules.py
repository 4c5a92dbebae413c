"""The device's rules and the clock's (timeouts, retries, abort) on plain dicts: no server."""
from __future__ import annotations

import pytest

from cancelgate.errors import ApiError
from cancelgate.families.iot import lifecycle, rules
from cancelgate.families.iot_jobs_data import rules as device
from cancelgate.store.indexes import IndexedDict

CONFIG = {"durations": {"QUEUED": 5, "IN_PROGRESS": 10}, "outcomes": {"SUCCEEDED": 1.0}}


def world(*jobs: tuple[str, dict], things=("t",)):
    tables = {"things": {}, "jobs": {}, "executions": IndexedDict(lifecycle.INDEXES), "groups": {}}
    for name in things:
        rules.create_thing(tables["things"], name, {}, rules.thing_arn("us-east-1", "123456789012", name))
    for at, (job_id, extra) in enumerate(jobs):
        rules.create_job(tables["things"], tables["jobs"], tables["executions"], job_id,
                         {"targets": [rules.thing_arn("us-east-1", "123456789012", t) for t in things],
                          "document": "{}", **extra}, at * 1000, f"arn:job/{job_id}", tables["groups"])
    return tables


def test_start_next_takes_the_oldest_queued_then_keeps_answering_the_one_in_progress():
    w = world(("a", {}), ("b", {}))
    first = device.start_next(w["things"], w["jobs"], w["executions"], "t", None, None, 10_000)
    assert (first["execution"]["jobId"], first["execution"]["versionNumber"]) == ("a", 2)
    again = device.start_next(w["things"], w["jobs"], w["executions"], "t", {"x": "y"}, None, 11_000)
    assert (again["execution"]["jobId"], again["execution"]["versionNumber"]) == ("a", 2)
    assert w["executions"]["t/a"]["_device"] is True and w["executions"]["t/b"].get("_device") is None


@pytest.mark.parametrize("current", ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"])
def test_updates_from_a_finished_status_carry_the_execution_state(current):
    w = world(("a", {}))
    w["executions"]["t/a"] = {**w["executions"]["t/a"], "status": current, "versionNumber": 4}
    with pytest.raises(ApiError) as error:
        device.update(w["things"], w["jobs"], w["executions"], "t", "a", {"status": "IN_PROGRESS"}, 1)
    assert error.value.code == "InvalidStateTransitionException"
    assert error.value.extra["executionState"] == {"status": current, "statusDetails": {}, "versionNumber": 4}
    assert w["executions"]["t/a"]["versionNumber"] == 4


def test_a_stale_expected_version_changes_nothing():
    w = world(("a", {}))
    before = dict(w["executions"]["t/a"])
    with pytest.raises(ApiError) as error:
        device.update(w["things"], w["jobs"], w["executions"], "t", "a",
                      {"status": "SUCCEEDED", "expectedVersion": 7}, 1)
    assert "VersionMismatch" in error.value.message and w["executions"]["t/a"] == before


def test_the_lifecycle_leaves_device_driven_executions_but_times_them_out():
    w = world(("a", {"timeoutConfig": {"inProgressTimeoutInMinutes": 1}}), things=("dev", "sim"))
    device.start_next(w["things"], w["jobs"], w["executions"], "dev", None, None, 0)
    changes = lifecycle.lifecycle_step(w["executions"], 59_999, CONFIG)
    assert w["executions"]["dev/a"]["status"] == "IN_PROGRESS"
    assert w["executions"]["sim/a"]["status"] == "SUCCEEDED"  # simulated, done before its timeout
    assert lifecycle.lifecycle_next(w["executions"], CONFIG) == 60_000
    changes = lifecycle.lifecycle_step(w["executions"], 60_000, CONFIG)
    assert changes == [{"id": "dev/a", "from": "IN_PROGRESS", "to": "TIMED_OUT", "at": 60_000}]


def test_a_timed_out_execution_with_a_retry_is_queued_again():
    w = world(("a", {"timeoutConfig": {"inProgressTimeoutInMinutes": 1},
                     "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]}}))
    device.start_next(w["things"], w["jobs"], w["executions"], "t", None, None, 0)
    changes = lifecycle.lifecycle_step(w["executions"], 60_000, CONFIG)
    assert [c["to"] for c in changes] == ["TIMED_OUT", "QUEUED"]
    retried = w["executions"]["t/a"]
    assert (retried["status"], retried["executionNumber"], retried["retryAttempt"]) == ("QUEUED", 2, 1)


def test_abort_cancels_the_job_and_its_queued_executions():
    w = world(("a", {"abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                                                       "thresholdPercentage": 100, "minNumberOfExecutedThings": 1}]}}),
              things=("x", "y"))
    device.start_next(w["things"], w["jobs"], w["executions"], "x", None, None, 0)
    device.update(w["things"], w["jobs"], w["executions"], "x", "a", {"status": "FAILED"}, 1)
    assert w["jobs"]["a"]["status"] == "CANCELED" and w["jobs"]["a"]["reasonCode"] == "ABORT_CRITERIA_MET"
    assert w["executions"]["y/a"]["status"] == "CANCELED"
