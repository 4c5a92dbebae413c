"""The IoT rules called directly on plain dicts."""
from __future__ import annotations

import pytest

from cancelgate.families.iot import lifecycle, rules
from cancelgate.errors import ApiError
from cancelgate.store.indexes import IndexedDict

NOW = 10_000
ARN = "arn:aws:iot:us-east-1:123456789012:thing/{}"


def world(status: str, version: int = 1):
    things, jobs, executions = {}, {}, IndexedDict(lifecycle.INDEXES)
    rules.put_execution(things, jobs, executions, "t", "j", {"status": status, "versionNumber": version},
                        1_000, ARN.format, lambda j: f"job/{j}")
    return things, jobs, executions


def cancel(things, executions, **kwargs):
    defaults = {"force": False, "expected_version": None, "status_details": None, "now": NOW}
    return rules.cancel_execution(things, executions, "t", "j", **{**defaults, **kwargs})


@pytest.mark.parametrize("force", [False, True])
def test_queued_cancels(force):
    things, _, executions = world("QUEUED")
    canceled = cancel(things, executions, force=force)
    assert (canceled["status"], canceled["versionNumber"], canceled["lastUpdatedAt"]) == ("CANCELED", 2, NOW)
    assert "forceCanceled" not in canceled


def test_in_progress_needs_force():
    things, _, executions = world("IN_PROGRESS", 5)
    with pytest.raises(ApiError) as raised:
        cancel(things, executions)
    assert raised.value.code == "InvalidStateTransitionException"
    assert executions["t/j"]["versionNumber"] == 5
    assert cancel(things, executions, force=True)["forceCanceled"] is True


@pytest.mark.parametrize("status", rules.FINISHED)
def test_finished_is_invalid_transition_even_forced(status):
    things, _, executions = world(status)
    for force in (False, True):
        with pytest.raises(ApiError) as raised:
            cancel(things, executions, force=force)
        assert raised.value.code == "InvalidStateTransitionException"


def test_version_is_checked_before_anything_changes():
    things, _, executions = world("QUEUED", 3)
    with pytest.raises(ApiError) as raised:
        cancel(things, executions, expected_version=2)
    assert raised.value.code == "VersionConflictException"
    assert executions["t/j"]["status"] == "QUEUED"


def test_unknown_thing_and_execution():
    things, _, executions = world("QUEUED")
    for thing, job in (("other", "j"), ("t", "other")):
        with pytest.raises(ApiError) as raised:
            rules.cancel_execution(things, executions, thing, job, force=False, expected_version=None,
                                   status_details=None, now=NOW)
        assert raised.value.code == "ResourceNotFoundException"


def test_status_details_replace_only_when_given():
    things, _, executions = world("QUEUED")
    executions["t/j"] = {**executions["t/j"], "statusDetails": {"a": "1"}}
    assert cancel(things, executions)["statusDetails"] == {"a": "1"}
    things, _, executions = world("QUEUED")
    assert cancel(things, executions, status_details={"b": "2"})["statusDetails"] == {"b": "2"}


@pytest.mark.parametrize("value", ["tab\t", "del\x7f", "c1\x85", "zwsp\u200b", "private\ue000", "bom\ufeff"])
def test_every_category_c_character_is_refused(value):
    with pytest.raises(ApiError):
        rules.check_status_details({"k": value})


def test_printable_unicode_is_fine():
    rules.check_status_details({"k": "naïve ☃ 雪 🙂"})


def test_create_job_refuses_unknown_targets_and_duplicates():
    things, jobs, executions = {}, {}, IndexedDict(lifecycle.INDEXES)
    rules.create_thing(things, "a", {}, ARN.format("a"))
    with pytest.raises(ApiError) as missing:
        rules.create_job(things, jobs, executions, "j", {"targets": [ARN.format("b")]}, NOW, "arn")
    assert missing.value.code == "ResourceNotFoundException"
    rules.create_job(things, jobs, executions, "j", {"targets": [ARN.format("a")]}, NOW, "arn")
    assert executions["a/j"]["status"] == "QUEUED"
    with pytest.raises(ApiError) as duplicate:
        rules.create_job(things, jobs, executions, "j", {"targets": [ARN.format("a")]}, NOW, "arn")
    assert duplicate.value.code == "ResourceAlreadyExistsException"


def test_lifecycle_moves_queued_to_an_outcome_and_bumps_versions():
    config = {"durations": {"QUEUED": 1, "IN_PROGRESS": 2}, "outcomes": {"SUCCEEDED": 1.0}}
    things, _, executions = world("QUEUED")
    executions["t/j"] = {**executions["t/j"], "_since": 0, "versionNumber": 1}
    assert lifecycle.lifecycle_next(executions, config) == 1000
    moves = lifecycle.lifecycle_step(executions, 5000, config)
    assert [(m["from"], m["to"], m["at"]) for m in moves] == [("QUEUED", "IN_PROGRESS", 1000),
                                                            ("IN_PROGRESS", "SUCCEEDED", 3000)]
    assert executions["t/j"]["versionNumber"] == 3 and executions["t/j"]["startedAt"] == 1000


def test_outcome_shares_are_deterministic_and_follow_the_shares():
    shares = {"SUCCEEDED": 0.8, "FAILED": 0.1, "TIMED_OUT": 0.05, "REJECTED": 0.05}
    picks = [lifecycle.outcome({"thingName": f"t{i}", "jobId": "j"}, shares) for i in range(2000)]
    assert picks == [lifecycle.outcome({"thingName": f"t{i}", "jobId": "j"}, shares) for i in range(2000)]
    assert 0.75 < picks.count("SUCCEEDED") / 2000 < 0.85
    assert set(picks) == set(shares)
