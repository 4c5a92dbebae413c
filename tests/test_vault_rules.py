"""The Vault rules called directly on plain dicts."""
from __future__ import annotations

import pytest

from cancelgate.families.vault import lifecycle, rules
from cancelgate.errors import ApiError


def job(job_id: int, status: str, vault_id: int = 1) -> dict:
    return {"id": job_id, "status": status, "vault_id": vault_id, "created_by": 7, "created_date": 0}


def test_cancel_answers_each_id_in_order():
    jobs = {str(j["id"]): j for j in [job(1, "QUEUED"), job(2, "RUNNING"), job(3, "SCHEDULED"), job(4, "QUEUED", 2)]}
    results = rules.cancel(jobs, 1, [3, 2, 1, 1, 4, 5], now=100)
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    assert results[1]["errors"] == {"type": "INVALID_DATA",
                                    "message": "Job [2] is not found in QUEUED or QUEUEING state"}
    assert (jobs["1"]["status"], jobs["3"]["status"], jobs["4"]["status"]) == ("CANCELLING", "CANCELLING", "QUEUED")


def test_cancelling_never_fails_and_ends_cancelled():
    jobs = {"1": {**job(1, "CANCELLING"), "_since": 0}}
    config = {"durations": {"CANCELLING": 2}}
    assert lifecycle.lifecycle_next(jobs, config) == 2000
    assert lifecycle.lifecycle_step(jobs, 1999, config) == []
    assert [m["to"] for m in lifecycle.lifecycle_step(jobs, 2000, config)] == ["CANCELLED"]
    assert jobs["1"]["run_end_date"] == 2000


def test_lifecycle_runs_scheduled_jobs_to_success():
    jobs = {"1": {**job(1, "SCHEDULED"), "_since": 0}}
    config = {"durations": {"SCHEDULED": 1, "QUEUED": 1, "RUNNING": 1}}
    assert [m["to"] for m in lifecycle.lifecycle_step(jobs, 5000, config)] == ["QUEUED", "RUNNING", "SUCCESS"]
    assert (jobs["1"]["run_start_date"], jobs["1"]["run_end_date"]) == (2000, 3000)


def test_authentication_and_idle_sessions():
    users = {"u": {"password": "pw", "userId": 5, "vaultId": 1}}
    sessions: dict = {}
    with pytest.raises(ApiError) as wrong:
        rules.authenticate(users, sessions, "u", "nope", 0, "s1")
    assert wrong.value.code == "USERNAME_OR_PASSWORD_INCORRECT"
    assert wrong.value.extra == {"errorType": "AUTHENTICATION_FAILED"}
    rules.authenticate(users, sessions, "u", "pw", 0, "s1")
    assert rules.use_session(sessions, "s1", 1000, idle_ms=1000)["lastUsed"] == 1000
    assert rules.use_session(sessions, "s1", 2001, idle_ms=1000) is None
    assert "s1" not in sessions


def test_versions_compare_numerically():
    assert rules.version_tuple("v25.10") > rules.version_tuple("v25.3") >= rules.FIRST_CANCEL_VERSION
    assert rules.version_tuple("v25.2") < rules.FIRST_CANCEL_VERSION
