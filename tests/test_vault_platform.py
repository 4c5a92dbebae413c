"""Vault's job platform around Cancel Job (issue 16), against live servers with httpx: served
versions, job monitors and histories, Start Job, every status through the lifecycle file and the
control plane, sessions (keep-alive, validate-session-user, 48-hour maximum, per-user cap, expiry
by the clock), rate limits on the server's clock and shared through Redis, client ids in the
journal and no session id in it."""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ElementTree

import httpx
import pytest

from tests.conftest import start_server

V = "/api/v26.3"
ALICE = {"username": "alice@promomats.example.com", "password": "cancelgate"}


def serve(tmp_path, lifecycle: str = "", *args: str):
    (tmp_path / "lifecycle.yaml").write_text(lifecycle or "vault:\n  limits:\n    enabled: true\n")
    return start_server(tmp_path, "--lifecycle", str(tmp_path / "lifecycle.yaml"), *args)


@pytest.fixture
def vault(tmp_path):
    """A server with the default lifecycle (limits on), and an httpx client on it."""
    server = serve(tmp_path)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http
    server.stop()


def login(http, user=ALICE) -> str:
    body = http.post(f"{V}/auth", data=user).json()
    assert body["responseStatus"] == "SUCCESS", body
    return body["sessionId"]


def advance(http, seconds: float) -> list:
    return http.post("/_cancelgate/clock/advance", json={"seconds": seconds}).json()["transitions"]


def ok(answer: httpx.Response) -> dict:
    body = answer.json()
    assert answer.status_code == 200 and body["responseStatus"] == "SUCCESS", body
    return body


def failure(answer: httpx.Response, kind: str) -> dict:
    body = answer.json()
    assert answer.status_code == 200 and body["responseStatus"] == "FAILURE", body
    assert body["errors"][0]["type"] == kind, body
    return body


def test_versions_are_every_served_one_oldest_first(vault):
    values = ok(vault.get("/api/"))["values"]
    names = list(values)
    assert len(names) == 40 and names[0] == "v7.0" and names[9] == "v16.0" and names[10] == "v17.1"
    assert names[-1] == "v26.3" and names[-2] == "v26.2"
    assert all(values[v] == f"{str(vault.base_url).rstrip('/')}/api/{v}" for v in names)
    root = ElementTree.fromstring(vault.get("/api/", headers={"Accept": "application/xml"}).content)
    assert [e.tag for e in root.find("values")] == names


def test_unserved_versions_and_operations_newer_than_the_version(vault):
    session = {"Authorization": login(vault)}
    for version in ("v27.1", "v5.0", "v26.4"):
        failure(vault.get(f"/api/{version}/services/jobs/monitors", headers=session), "INVALID_SESSION_ID")
    failure(vault.post("/api/v27.1/auth", data=ALICE), "INVALID_SESSION_ID")
    failure(vault.get("/api/v18.2/services/jobs/monitors", headers=session), "METHOD_NOT_SUPPORTED")
    failure(vault.post("/api/v18.3/keep-alive", headers=session), "METHOD_NOT_SUPPORTED")
    failure(vault.get("/api/v16.0/objects/users/me", headers=session), "METHOD_NOT_SUPPORTED")
    ok(vault.get("/api/v17.1/objects/users/me", headers=session))
    ok(vault.post("/api/v7.0/auth", data=ALICE))
    failure(vault.get("/api/latest/services/jobs/1002", headers=session), "INVALID_DATA")


def test_monitors_page_filter_and_keep_cancelling_until_cancelled(vault):
    session = {"Authorization": login(vault)}
    first = ok(vault.get(f"{V}/services/jobs/monitors", params={"limit": 2}, headers=session))
    assert first["responseDetails"]["total"] == 9 and len(first["jobs"]) == 2
    assert first["url"] == f"{V}/services/jobs/monitors?limit=2&offset=0"
    assert first["responseDetails"]["next_page"] == f"{V}/services/jobs/monitors?limit=2&offset=2"
    assert set(first["jobs"][0]) >= {"job_id", "title", "status", "created_by", "created_date", "modified_by",
                                     "modified_date"}
    last = ok(vault.get(f"{V}/services/jobs/monitors", params={"limit": 2, "offset": 8}, headers=session))
    assert [j["job_id"] for j in last["jobs"]] == [1015] and "next_page" not in last["responseDetails"]
    assert last["responseDetails"]["previous_page"].endswith("limit=2&offset=6")
    queued = ok(vault.get(f"{V}/services/jobs/monitors", params={"status": "queued"}, headers=session))
    assert {j["status"] for j in queued["jobs"]} == {"QUEUED"} and queued["responseDetails"]["total"] == 5
    root = ElementTree.fromstring(vault.get(f"{V}/services/jobs/monitors", params={"limit": 2},
                                            headers={**session, "Accept": "application/xml"}).content)
    assert [j.findtext("status") for j in root.find("jobs")] == ["SCHEDULED", "QUEUED"]
    titled = ok(vault.get(f"{V}/services/jobs/monitors", params={"title": "running job"}, headers=session))
    assert [j["job_id"] for j in titled["jobs"]] == [1004] and titled["jobs"][0]["run_start_date"].endswith("Z")

    assert ok(vault.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": 1012}],
                         headers=session))["data"][0]["responseStatus"] == "SUCCESS"
    listed = {j["job_id"]: j for j in ok(vault.get(f"{V}/services/jobs/monitors", headers=session))["jobs"]}
    assert listed[1012]["status"] == "CANCELLING" and listed[1012]["modified_by"] == 12021
    advance(vault, 2)
    listed = {j["job_id"] for j in ok(vault.get(f"{V}/services/jobs/monitors", headers=session))["jobs"]}
    assert 1012 not in listed
    done = ok(vault.get(f"{V}/services/jobs/histories", params={"status": "cancelled"}, headers=session))["jobs"]
    mine = [j for j in done if j["job_id"] == 1012][0]
    assert mine["status"] == "cancelled" and mine["run_start_date"] < mine["run_end_date"]


def test_histories_filters_limits_and_bad_input(vault):
    session = {"Authorization": login(vault)}
    every = ok(vault.get(f"{V}/services/jobs/histories", headers=session))
    assert every["responseDetails"] == {"total": 6, "limit": 50, "offset": 0}
    assert {j["status"] for j in every["jobs"]} == {"success", "errors_encountered", "cancelled", "timeout",
                                                    "completed_due_to_inactivity", "missed_schedule"}
    for status in ("success", "timeout", "missed_schedule"):
        found = ok(vault.get(f"{V}/services/jobs/histories", params={"status": status}, headers=session))["jobs"]
        assert [j["status"] for j in found] == [status]
    assert ok(vault.get(f"{V}/services/jobs/histories", params={"status": "failed_to_run"},
                        headers=session))["jobs"] == []
    window = {"start_date": "2025-11-24T16:05:00Z", "end_date": "2025-11-24T16:06:30Z"}
    assert [j["job_id"] for j in ok(vault.get(f"{V}/services/jobs/histories", params=window,
                                              headers=session))["jobs"]] == [1005, 1006]
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"status": "CANCELLED"},
                   {"start_date": "2025-11-24"}):
        failure(vault.get(f"{V}/services/jobs/histories", params=params, headers=session), "INVALID_DATA")
    failure(vault.get(f"{V}/services/jobs/histories", params={"start_date": "2025-13-40T00:00:00Z"},
                      headers=session), "INVALID_DATA")
    failure(vault.get(f"{V}/services/jobs/histories"), "INVALID_SESSION_ID")
    root = ElementTree.fromstring(vault.get(f"{V}/services/jobs/histories", params={"limit": 2},
                                            headers={**session, "Accept": "application/xml"}).content)
    assert root.findtext("responseStatus") == "SUCCESS" and root.findtext("responseDetails/total") == "6"
    assert [j.findtext("job_id") for j in root.find("jobs")] == ["1005", "1006"]


def test_start_job_runs_a_scheduled_job_now(vault):
    session = {"Authorization": login(vault)}
    assert ok(vault.post(f"{V}/services/jobs/start_now/1001", headers=session)) == {"responseStatus": "SUCCESS"}
    assert ok(vault.get(f"{V}/services/jobs/1001", headers=session))["data"]["status"] == "QUEUED"
    for job_id in (1001, 1004, 1005, 2001, 999999):
        failure(vault.post(f"{V}/services/jobs/start_now/{job_id}", headers=session), "INVALID_DATA")
    root = ElementTree.fromstring(vault.post(f"{V}/services/jobs/start_now/1002",
                                             headers={**session, "Accept": "application/xml"}).content)
    assert root.findtext("errors/error/type") == "INVALID_DATA"


def test_every_status_through_control_plane_and_lifecycle_file(tmp_path):
    lifecycle = ("vault:\n  durations:\n    SCHEDULED: 1\n    QUEUEING: 1\n    QUEUED: 1\n    RUNNING: 1\n"
                 "  next:\n    SCHEDULED: QUEUEING\n    QUEUEING: QUEUED\n    RUNNING: TIMEOUT\n"
                 "  limits:\n    enabled: false\n")
    server = serve(tmp_path, lifecycle)
    try:
        with httpx.Client(base_url=server.url) as http:
            session = {"Authorization": login(http)}
            http.put("/_cancelgate/vault/jobs/501", json={"status": "SCHEDULED", "vault_id": 1776})
            http.put("/_cancelgate/vault/jobs/502", json={"status": "QUEUED", "vault_id": 1776,
                                                          "outcome": "ERRORS_ENCOUNTERED"})
            http.put("/_cancelgate/vault/jobs/503", json={"status": "QUEUED", "vault_id": 1776,
                                                          "outcome": "COMPLETED_DUE_TO_INACTIVITY"})
            advance(http, 0)   # jobs put from outside start their clock when first seen
            moves = advance(http, 10)
            path = [m["to"] for m in moves if m["id"] == "501"]
            assert path == ["QUEUEING", "QUEUED", "RUNNING", "TIMEOUT"]
            assert [m["to"] for m in moves if m["id"] == "502"][-1] == "ERRORS_ENCOUNTERED"
            assert [m["to"] for m in moves if m["id"] == "503"][-1] == "COMPLETED_DUE_TO_INACTIVITY"
            statuses = ["SCHEDULED", "QUEUED", "QUEUEING", "RUNNING", "SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED",
                        "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY", "MISSED_SCHEDULE"]
            for n, status in enumerate(statuses):
                http.put(f"/_cancelgate/vault/jobs/{600 + n}", json={"status": status, "vault_id": 1776})
            results = ok(http.post(f"{V}/services/jobs/actions/cancel",
                                   json=[{"job_id": 600 + n} for n in range(len(statuses))], headers=session))["data"]
            answered = {status: r["responseStatus"] for status, r in zip(statuses, results, strict=True)}
            assert {s for s, r in answered.items() if r == "SUCCESS"} == {"SCHEDULED", "QUEUED", "QUEUEING"}
            for status, r in zip(statuses, results, strict=True):
                if r["responseStatus"] == "FAILURE":
                    assert r["errors"] == {"type": "INVALID_DATA",
                                           "message": f"Job [{600 + statuses.index(status)}] is not found in "
                                                      f"QUEUED or QUEUEING state"}
    finally:
        server.stop()
    (tmp_path / "missed").mkdir()
    server = serve(tmp_path / "missed", "vault:\n  next:\n    SCHEDULED: MISSED_SCHEDULE\n")
    try:
        with httpx.Client(base_url=server.url) as http:
            advance(http, 0)
            assert [m["to"] for m in advance(http, 6) if m["id"] == "1001"] == ["MISSED_SCHEDULE"]
    finally:
        server.stop()


def test_lifecycle_file_refuses_a_next_status_vault_does_not_have(tmp_path):
    (tmp_path / "bad.yaml").write_text("vault:\n  next:\n    RUNNING: CANCELLED\n")
    with pytest.raises(RuntimeError, match="vault/next/RUNNING"):
        start_server(tmp_path, "--lifecycle", str(tmp_path / "bad.yaml"))


def test_keep_alive_validate_user_and_the_48_hour_maximum(tmp_path):
    server = serve(tmp_path, "vault:\n  limits:\n    enabled: false\n", "--vault-session-idle", "1800")
    try:
        with httpx.Client(base_url=server.url) as http:
            session = login(http)
            headers = {"Authorization": session}
            me = ok(http.get(f"{V}/objects/users/me", headers=headers))["users"][0]["user"]
            assert (me["id"], me["user_name__v"], me["vault_id__v"]) == (12021, ALICE["username"], 1776)
            assert "vault_membership" not in me
            full = ok(http.get(f"{V}/objects/users/me", params={"exclude_vault_membership": "false",
                                                                "exclude_app_licensing": "false"},
                               headers=headers))["users"][0]["user"]
            assert full["vault_membership"][0]["id"] == 1776 and full["app_licensing"] == []
            root = ElementTree.fromstring(http.get(f"{V}/objects/users/me",
                                                   headers={**headers, "Accept": "application/xml"}).content)
            assert root.findtext("users/user/user/user_name__v") == ALICE["username"]
            elapsed, hard = 0, 48 * 3600
            while elapsed + 1790 < hard:           # kept alive every 1790 s (idle timeout 1800 s)
                advance(http, 1790)
                elapsed += 1790
                assert ok(http.post(f"{V}/keep-alive", headers=headers)) == {"responseStatus": "SUCCESS"}
            advance(http, hard - elapsed)          # exactly 48 hours after login: still alive
            ok(http.post(f"{V}/keep-alive", headers=headers))
            advance(http, 0.001)
            failure(http.post(f"{V}/keep-alive", headers=headers), "INVALID_SESSION_ID")
            failure(http.get(f"{V}/objects/users/me", headers=headers), "INVALID_SESSION_ID")
            root = ElementTree.fromstring(http.post(f"{V}/keep-alive",
                                                    headers={**headers, "Accept": "application/xml"}).content)
            assert root.findtext("errors/error/type") == "INVALID_SESSION_ID"
    finally:
        server.stop()


def test_sessions_capped_per_user_and_removed_by_the_clock(tmp_path):
    server = serve(tmp_path, "vault:\n  sessions:\n    per_user: 2\n", "--vault-session-idle", "60")
    try:
        with httpx.Client(base_url=server.url) as http:
            first, second, third = login(http), login(http), login(http)
            failure(http.post(f"{V}/keep-alive", headers={"Authorization": first}), "INVALID_SESSION_ID")
            ok(http.post(f"{V}/keep-alive", headers={"Authorization": second}))
            login(http, {"username": "bob@etmf.example.com", "password": "cancelgate"})
            assert http.get("/_cancelgate/health").json()["counts"]["vault_sessions"] == 3
            advance(http, 50)
            ok(http.post(f"{V}/keep-alive", headers={"Authorization": third}))   # used: lives on
            # nothing reused the others: the clock ends them, in one-minute buckets, so by the end
            # of the minute after their last instant (third: used at 50 s, idle 60 s -> by 170 s)
            advance(http, 130)
            counts = http.get("/_cancelgate/health").json()["counts"]
            assert counts["vault_sessions"] == 0 and counts.get("vault_user_sessions", 0) == 0
            failure(http.post(f"{V}/keep-alive", headers={"Authorization": third}), "INVALID_SESSION_ID")
    finally:
        server.stop()


def test_job_status_once_per_ten_seconds_on_the_server_clock(vault):
    session = {"Authorization": login(vault)}
    assert ok(vault.get(f"{V}/services/jobs/1002", headers=session))["data"]["status"] == "QUEUED"
    limited = failure(vault.get(f"{V}/services/jobs/1002", headers=session), "API_LIMIT_EXCEEDED")
    assert "10 seconds" in limited["errors"][0]["message"]
    entry = [e for e in vault.get("/_cancelgate/requests").json()["requests"]
             if e["operationId"] == "RetrieveJobStatus"][-1]
    assert entry["errorCode"] == "API_LIMIT_EXCEEDED" and entry["touched"] == []     # nothing changed
    ok(vault.get(f"{V}/services/jobs/1003", headers=session))                        # per job id
    advance(vault, 9.9)
    failure(vault.get(f"{V}/services/jobs/1002", headers=session), "API_LIMIT_EXCEEDED")
    advance(vault, 0.1)
    ok(vault.get(f"{V}/services/jobs/1002", headers=session))


def test_burst_and_daily_limits_count_down_per_vault_and_reset(tmp_path):
    server = serve(tmp_path, "vault:\n  limits:\n    burst: 3\n    daily: 5\n")
    try:
        with httpx.Client(base_url=server.url) as http:
            session = login(http)              # counts as the first call of vault 1776
            headers = {"Authorization": session}
            answer = http.post(f"{V}/keep-alive", headers=headers)
            assert (answer.headers["X-VaultAPI-BurstLimit"], answer.headers["X-VaultAPI-BurstLimitRemaining"],
                    answer.headers["X-VaultAPI-DailyLimit"], answer.headers["X-VaultAPI-DailyLimitRemaining"]) == (
                "3", "1", "5", "3")
            assert http.post(f"{V}/keep-alive", headers=headers).headers["X-VaultAPI-BurstLimitRemaining"] == "0"
            refused = http.post(f"{V}/keep-alive", headers=headers)
            failure(refused, "API_LIMIT_EXCEEDED")
            assert refused.headers["X-VaultAPI-BurstLimitRemaining"] == "0"
            bob = login(http, {"username": "bob@etmf.example.com", "password": "cancelgate"})
            assert http.post(f"{V}/keep-alive", headers={"Authorization": bob}).headers[
                "X-VaultAPI-BurstLimitRemaining"] == "1"                             # another vault
            advance(http, 300)                    # the next 5-minute window
            answer = http.post(f"{V}/keep-alive", headers=headers)
            remaining = (answer.headers["X-VaultAPI-BurstLimitRemaining"],
                         answer.headers["X-VaultAPI-DailyLimitRemaining"])
            assert remaining == ("2", "1")
            ok(http.post(f"{V}/keep-alive", headers=headers))
            failure(http.post(f"{V}/keep-alive", headers=headers), "API_LIMIT_EXCEEDED")   # daily used up
            advance(http, 86400)                  # the next day (the idle session is gone by now)
            headers = {"Authorization": login(http)}
            assert http.post(f"{V}/keep-alive", headers=headers).headers["X-VaultAPI-DailyLimitRemaining"] == "3"
    finally:
        server.stop()


def test_limits_are_shared_by_servers_on_one_redis_store(tmp_path, redis_url):
    args = ["--store", redis_url, "--store-prefix", f"limits-{uuid.uuid4().hex[:8]}"]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = serve(tmp_path / "one", "vault:\n  limits:\n    burst: 4\n", *args)
    two = serve(tmp_path / "two", "vault:\n  limits:\n    burst: 4\n", *args)
    try:
        session = login(httpx.Client(base_url=one.url))
        headers = {"Authorization": session}
        assert httpx.post(f"{two.url}{V}/keep-alive", headers=headers).headers["X-VaultAPI-BurstLimitRemaining"] == "2"
        assert httpx.post(f"{one.url}{V}/keep-alive", headers=headers).headers["X-VaultAPI-BurstLimitRemaining"] == "1"
        httpx.get(f"{two.url}{V}/services/jobs/1002", headers=headers)
        failure(httpx.get(f"{one.url}{V}/services/jobs/1003", headers=headers), "API_LIMIT_EXCEEDED")
    finally:
        one.stop()
        two.stop()


def test_client_id_in_the_journal_and_no_session_id_anywhere(vault):
    session = login(vault)
    headers = {"Authorization": session}
    vault.post(f"{V}/keep-alive", headers={**headers, "X-VaultAPI-ClientID": "veeva-vault-tools.cancel_1"})
    vault.post(f"{V}/keep-alive", params={"client_id": "from-query"}, headers={**headers, "X-VaultAPI-ClientID": "hdr"})
    vault.post(f"{V}/keep-alive", headers={**headers, "X-VaultAPI-ClientID": "bad id!"})
    vault.post(f"{V}/keep-alive", headers=headers)
    vault.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": 1013}], headers=headers)
    vault.get(f"{V}/services/jobs/1013", headers=headers)
    vault.delete(f"{V}/session", headers=headers)
    entries = vault.get("/_cancelgate/requests").json()["requests"]
    keep_alives = [e.get("clientId") for e in entries if e["operationId"] == "KeepAlive"]
    assert keep_alives == ["veeva-vault-tools.cancel_1", "from-query", "invalid_client_id", "unknown"]
    text = vault.get("/_cancelgate/requests").text
    assert session not in text and session.lower() not in text
    assert any("1013" in e["touched"] for e in entries)
