"""The Vault rules called directly on plain dicts."""
from __future__ import annotations

import pytest

from cancelgate.families.vault import lifecycle, limits, rules
from cancelgate.families.vault import sessions as vault_sessions
from cancelgate.errors import ApiError
from cancelgate.store.indexes import IndexedDict


def job(job_id: int, status: str, vault_id: int = 1) -> dict:
    return {"id": job_id, "status": status, "vault_id": vault_id, "created_by": 7, "created_date": 0}


def test_cancel_answers_each_id_in_order():
    jobs = {str(j["id"]): j for j in [job(1, "QUEUED"), job(2, "RUNNING"), job(3, "SCHEDULED"), job(4, "QUEUED", 2)]}
    results = rules.cancel(jobs, 1, [3, 2, 1, 1, 4, 5], now=100)
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    assert results[1]["errors"] == {"type": "INVALID_DATA",
                                    "message": "Job [2] is not found in QUEUED or QUEUEING state"}
    assert (jobs["1"]["status"], jobs["3"]["status"], jobs["4"]["status"]) == ("CANCELLING", "CANCELLING", "QUEUED")


def tables(jobs: dict) -> dict:
    indexed = jobs if isinstance(jobs, IndexedDict) else IndexedDict(lifecycle.INDEXES, jobs)
    return {"jobs": indexed, "index": {}, "sessions": {}, "user_sessions": {}, "expiry": {}}


def test_cancelling_never_fails_and_ends_cancelled():
    jobs = IndexedDict(lifecycle.INDEXES, {"1": {**job(1, "CANCELLING"), "_since": 0}})
    config = {"durations": {"CANCELLING": 2}}
    assert lifecycle.lifecycle_next(tables(jobs), config) == 2000
    assert lifecycle.lifecycle_step(tables(jobs), 1999, config) == []
    assert [m["to"] for m in lifecycle.lifecycle_step(tables(jobs), 2000, config)] == ["CANCELLED"]
    assert (jobs["1"]["run_start_date"], jobs["1"]["run_end_date"]) == (0, 2000)


def test_lifecycle_runs_scheduled_jobs_to_success():
    jobs = IndexedDict(lifecycle.INDEXES, {"1": {**job(1, "SCHEDULED"), "_since": 0}})
    config = {"durations": {"SCHEDULED": 1, "QUEUED": 1, "RUNNING": 1}}
    assert [m["to"] for m in lifecycle.lifecycle_step(tables(jobs), 5000, config)] == ["QUEUED", "RUNNING", "SUCCESS"]
    assert (jobs["1"]["run_start_date"], jobs["1"]["run_end_date"]) == (2000, 3000)


@pytest.mark.parametrize("next_,outcome,path", [
    ({"SCHEDULED": "MISSED_SCHEDULE"}, None, ["MISSED_SCHEDULE"]),
    ({"SCHEDULED": "QUEUEING", "QUEUEING": "QUEUED"}, None, ["QUEUEING", "QUEUED", "RUNNING", "SUCCESS"]),
    ({"RUNNING": "ERRORS_ENCOUNTERED"}, None, ["QUEUED", "RUNNING", "ERRORS_ENCOUNTERED"]),
    ({"RUNNING": "TIMEOUT"}, None, ["QUEUED", "RUNNING", "TIMEOUT"]),
    ({}, "COMPLETED_DUE_TO_INACTIVITY", ["QUEUED", "RUNNING", "COMPLETED_DUE_TO_INACTIVITY"]),
])
def test_every_documented_status_is_reachable_on_the_clock(next_, outcome, path):
    jobs = {"1": {**job(1, "SCHEDULED"), "_since": 0, **({"outcome": outcome} if outcome else {})}}
    config = {"durations": {"SCHEDULED": 1, "QUEUEING": 1, "QUEUED": 1, "RUNNING": 1}, "next": next_}
    assert [m["to"] for m in lifecycle.lifecycle_step(tables(jobs), 10_000, config)] == path


def test_index_follows_moves_and_lists_split_open_and_done():
    jobs = IndexedDict(lifecycle.INDEXES, {str(i): {**job(i, s), "_since": 0}
                                           for i, s in [(1, "QUEUED"), (2, "SUCCESS"), (3, "CANCELLING")]})
    index: dict = {}
    assert [j["id"] for j in rules.monitors(jobs, index, 1, {})] == [1, 3]
    assert index["1"] == {"open": [1, 3], "done": [2]}
    lifecycle.lifecycle_step({**tables(jobs), "index": index}, 10_000, {"durations": {"CANCELLING": 1}})
    assert index["1"] == {"open": [1], "done": [2, 3]}
    assert [j["id"] for j in rules.histories(jobs, index, 1, {"status": "cancelled"})] == [3]
    assert rules.listed(jobs["3"], lowercase=True)["status"] == "cancelled"


def test_start_now_queues_only_scheduled_jobs():
    jobs = {"1": job(1, "SCHEDULED"), "2": job(2, "QUEUED")}
    assert rules.start_now(jobs, 1, 1, 500, 9)["status"] == "QUEUED" and jobs["1"]["_since"] == 500
    with pytest.raises(ApiError) as raised:
        rules.start_now(jobs, 1, 2, 500, 9)
    assert raised.value.code == "INVALID_DATA"


def test_sessions_hashed_capped_and_expired_by_the_index():
    users = {"u": {"password": "pw", "userId": 5, "vaultId": 1}}
    sessions: dict = {}
    mine: dict = {}
    expiry: dict = {}
    with pytest.raises(ApiError):
        vault_sessions.login(users, sessions, mine, expiry, "u", "nope", 0, "s0", idle_ms=1000, hard_ms=5000,
                             per_user=2)
    for n in range(3):
        vault_sessions.login(users, sessions, mine, expiry, "u", "pw", n, f"s{n}", idle_ms=1000, hard_ms=5000,
                             per_user=2)
    assert "s1" not in sessions and vault_sessions.session_key("s1") in sessions
    assert vault_sessions.live_session(sessions, mine, "s0", 2) is None          # the oldest ended by the cap
    key, found = vault_sessions.live_session(sessions, mine, "s1", 500)
    vault_sessions.touch(sessions, key, found, 500)
    assert vault_sessions.next_due(expiry) == 60_000
    assert vault_sessions.expire_due(sessions, mine, expiry, 60_000) == 2
    assert sessions == {} and mine == {} and vault_sessions.next_due(expiry) is None


def test_hard_maximum_ends_a_session_kept_alive():
    users = {"u": {"password": "pw", "userId": 5, "vaultId": 1}}
    sessions: dict = {}
    vault_sessions.login(users, sessions, {}, {}, "u", "pw", 0, "s", idle_ms=1000, hard_ms=2500, per_user=5)
    for now in (900, 1800):
        key, found = vault_sessions.live_session(sessions, {}, "s", now)
        vault_sessions.touch(sessions, key, found, now)
    assert vault_sessions.live_session(sessions, {}, "s", 2500) is not None
    assert vault_sessions.live_session(sessions, {}, "s", 2501) is None


def test_limits_count_down_and_reset_on_the_clock():
    config = {**lifecycle.DEFAULT_LIMITS, "burst": 2, "daily": 3}
    table: dict = {}
    assert limits.take_call(table, 1, 0, config)["X-VaultAPI-BurstLimitRemaining"] == "1"
    assert limits.take_call(table, 1, 1, config)["X-VaultAPI-DailyLimitRemaining"] == "1"
    with pytest.raises(ApiError) as raised:
        limits.take_call(table, 1, 2, config)
    assert raised.value.code == "API_LIMIT_EXCEEDED"
    assert limits.take_call(table, 2, 2, config)["X-VaultAPI-BurstLimitRemaining"] == "1"   # per vault
    assert limits.take_call(table, 1, 300_000, config)["X-VaultAPI-DailyLimitRemaining"] == "0"
    with pytest.raises(ApiError):
        limits.take_call(table, 1, 600_000, config)                                        # daily used up
    assert limits.take_call(table, 1, limits.DAY_MS, config)["X-VaultAPI-DailyLimitRemaining"] == "2"
    limits.take_job_poll(table, 7, 0, config)
    with pytest.raises(ApiError):
        limits.take_job_poll(table, 7, 9_999, config)
    limits.take_job_poll(table, 7, 10_000, config)
    off = {**config, "enabled": False}
    assert limits.take_call({}, 1, 0, off)["X-VaultAPI-BurstLimitRemaining"] == "2"


def test_versions_compare_numerically():
    assert rules.version_tuple("v25.10") > rules.version_tuple("v25.3") > rules.version_tuple("v9.0")


def test_defaults_match_the_packaged_lifecycle_file():
    import yaml
    from cancelgate.resources import data_dir
    from pathlib import Path
    section = yaml.safe_load((Path(data_dir()) / "lifecycle.yaml").read_text())["vault"]
    assert lifecycle.limits_of(section) == lifecycle.DEFAULT_LIMITS == section["limits"]
    assert lifecycle.sessions_of(section) == lifecycle.DEFAULT_SESSIONS == section["sessions"]
    assert lifecycle.limits_of(None)["enabled"] is False      # --no-lifecycle: no rate limits


def test_every_operation_appears_in_a_served_version():
    import yaml
    from cancelgate.resources import specs_dir
    from pathlib import Path
    spec = yaml.safe_load((Path(specs_dir()) / "vault.yaml").read_text())
    served = spec["components"]["parameters"]["Version"]["x-served"]
    assert served == sorted(served, key=rules.version_tuple) and len(set(served)) == len(served) == 40
    since = {op["operationId"]: op.get("x-cancelgate-since", served[0])
             for item in spec["paths"].values() for op in item.values() if "operationId" in op}
    assert set(since.values()) <= set(served)
    assert since["CancelJobInstances"] == "v25.3"


@pytest.mark.parametrize("status", [["QUEUED"], {"s": 1}, None, 7])
def test_a_job_whose_status_is_no_string_is_in_no_index_and_raises_nothing(status):
    jobs = IndexedDict(lifecycle.INDEXES, {"1": {**job(1, "QUEUED"), "status": status}})
    assert all(jobs.groups(index.name) == [] for index in lifecycle.INDEXES)
