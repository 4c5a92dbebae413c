"""Veeva Vault against the live server with httpx: sessions, every status row, 500/501 ids,
order, duplicates, CSV in, XML out, session errors, malformed input."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import uuid

import httpx
import pytest

from tests.conftest import BACKENDS, start_server

LIMITS_OFF = "vault:\n  limits:\n    enabled: false\n"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    """This module's live server, once per backend, with Vault's rate limits switched off: these
    tests poll a job's status several times at one instant (tests/test_vault_platform.py covers
    the limits)."""
    folder = tmp_path_factory.mktemp(f"vault-{request.param}")
    (folder / "limits-off.yaml").write_text(LIMITS_OFF)
    args = ["--lifecycle", str(folder / "limits-off.yaml")]
    if request.param == "redis":
        args += ["--store", request.getfixturevalue("redis_url"), "--store-prefix", f"vault-{uuid.uuid4().hex[:8]}"]
    started = start_server(folder, *args)
    yield started
    started.stop()

pytestmark = pytest.mark.both_stores

V = "/api/v26.1"
ALICE = {"username": "alice@promomats.example.com", "password": "cancelgate"}
CANCELLABLE = {"SCHEDULED": 1001, "QUEUED": 1002, "QUEUEING": 1003}
NOT_CANCELLABLE = {"RUNNING": 1004, "SUCCESS": 1005, "ERRORS_ENCOUNTERED": 1006, "CANCELLING": 1007,
                   "CANCELLED": 1008, "TIMEOUT": 1009, "COMPLETED_DUE_TO_INACTIVITY": 1010,
                   "MISSED_SCHEDULE": 1011}


def login(http, user=ALICE) -> str:
    answer = http.post(f"{V}/auth", data=user).json()
    assert answer["responseStatus"] == "SUCCESS", answer
    return answer["sessionId"]


@pytest.fixture
def session(http) -> str:
    return login(http)


def cancel(http, session, ids, **headers):
    return http.post(f"{V}/services/jobs/actions/cancel", json=[{"job_id": i} for i in ids],
                     headers={"Authorization": session, **headers})


def status(http, session, job_id) -> dict:
    return http.get(f"{V}/services/jobs/{job_id}", headers={"Authorization": session}).json()


def failure(answer: httpx.Response, kind: str) -> dict:
    assert answer.status_code == 200
    body = answer.json()
    assert body["responseStatus"] == "FAILURE", body
    assert body["errors"][0]["type"] == kind, body
    assert answer.headers["X-VaultAPI-Status"] == "FAILURE"
    return body


def test_versions_and_login(http):
    versions = http.get("/api/").json()
    assert versions["responseStatus"] == "SUCCESS"
    assert versions["values"]["v26.1"].endswith("/api/v26.1")
    answer = http.post(f"{V}/auth", data=ALICE)
    body = answer.json()
    assert (body["responseStatus"], body["userId"], body["vaultId"]) == ("SUCCESS", 12021, 1776)
    assert len(body["sessionId"]) == 64
    assert body["vaultIds"] == [{"id": 1776, "name": "PromoMats", "url": f"{str(http.base_url).rstrip('/')}/api"}]
    assert answer.headers["X-VaultAPI-UserId"] == "12021" and answer.headers["X-VaultAPI-VaultId"] == "1776"
    assert login(http) != body["sessionId"]


def test_wrong_password_is_authentication_failed(http):
    for form in ({**ALICE, "password": "wrong"}, {"username": "nobody", "password": "x"}):
        body = failure(http.post(f"{V}/auth", data=form), "USERNAME_OR_PASSWORD_INCORRECT")
        assert body["errorType"] == "AUTHENTICATION_FAILED"
        assert "wrong" not in str(body) and "cancelgate" not in str(body)


def test_empty_vault_dns_counts_as_absent(http):
    answer = http.post(f"{V}/auth", data={**ALICE, "vaultDNS": ""})
    assert answer.json()["responseStatus"] == "SUCCESS"


def test_missing_password_is_parameter_required(http):
    failure(http.post(f"{V}/auth", data={"username": ALICE["username"]}), "PARAMETER_REQUIRED")


@pytest.mark.parametrize("name,job_id", CANCELLABLE.items())
def test_cancellable_statuses_move_to_cancelling(http, session, name, job_id):
    body = cancel(http, session, [job_id]).json()
    assert body == {"responseStatus": "SUCCESS", "data": [{"responseStatus": "SUCCESS", "data": {"id": job_id}}]}
    assert status(http, session, job_id)["data"]["status"] == "CANCELLING"


@pytest.mark.parametrize("name,job_id", NOT_CANCELLABLE.items())
def test_other_statuses_fail_per_id_and_stay(http, session, name, job_id):
    body = cancel(http, session, [job_id]).json()
    assert body["responseStatus"] == "SUCCESS"
    assert body["data"] == [{"responseStatus": "FAILURE", "errors": {
        "type": "INVALID_DATA", "message": f"Job [{job_id}] is not found in QUEUED or QUEUEING state"}}]
    assert status(http, session, job_id)["data"]["status"] == name


def test_mixed_results_in_request_order_with_duplicates_and_unknowns(http, session):
    ids = [1012, 1004, 999999, 1013, 1012, 2001, 1001]
    results = cancel(http, session, ids).json()["data"]
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "FAILURE", "SUCCESS", "FAILURE",
                                                      "FAILURE", "SUCCESS"]
    assert [r.get("data", {}).get("id") for r in results] == [1012, None, None, 1013, None, None, 1001]
    assert results[4]["errors"]["message"] == "Job [1012] is not found in QUEUED or QUEUEING state"


def test_another_vaults_job_is_not_found(http, session):
    bob = login(http, {"username": "bob@etmf.example.com", "password": "cancelgate"})
    assert cancel(http, session, [2001]).json()["data"][0]["responseStatus"] == "FAILURE"
    failure(http.get(f"{V}/services/jobs/2001", headers={"Authorization": session}), "INVALID_DATA")
    assert cancel(http, bob, [1012]).json()["data"][0]["responseStatus"] == "FAILURE"
    assert status(http, session, 1012)["data"]["status"] == "QUEUED"
    assert cancel(http, bob, [2001]).json()["data"][0]["responseStatus"] == "SUCCESS"


def test_five_hundred_ids_are_answered_501_are_refused(http, session):
    for job_id in range(3000, 3500):
        put = http.put(f"/_cancelgate/vault/jobs/{job_id}", json={"status": "QUEUED", "vault_id": 1776})
        assert put.status_code == 200
    too_many = cancel(http, session, list(range(3000, 3501)))
    assert failure(too_many, "INVALID_DATA")["errors"][0]["message"] == "the value has more than 500 items"
    assert status(http, session, 3000)["data"]["status"] == "QUEUED"       # nothing changed
    results = cancel(http, session, list(range(3000, 3500))).json()["data"]
    assert len(results) == 500 and all(r["responseStatus"] == "SUCCESS" for r in results)
    assert [r["data"]["id"] for r in results] == list(range(3000, 3500))


def test_csv_input(http, session):
    answer = http.post(f"{V}/services/jobs/actions/cancel", content="job_id\n1012\n1004\n1013\n",
                       headers={"Authorization": session, "Content-Type": "text/csv"})
    assert [r["responseStatus"] for r in answer.json()["data"]] == ["SUCCESS", "FAILURE", "SUCCESS"]


@pytest.mark.parametrize("csv,kind", [("id\n1012\n", "PARAMETER_REQUIRED"), ("job_id\nabc\n", "INVALID_DATA"),
                                      ("job_id\n", "INVALID_DATA"), ("", "PARAMETER_REQUIRED"),
                                      ("job_id\n" + "1012\n" * 501, "INVALID_DATA"),
                                      ("job_id\n²\n", "INVALID_DATA"), ("job_id\n１０１２\n", "INVALID_DATA"),
                                      ("job_id\n١٠١٢\n", "INVALID_DATA"), (b"job_id\n1012\xff\n", "INVALID_DATA"),
                                      ("job_id\n" + "9" * (200 * 1024) + "\n", "INVALID_DATA"),
                                      ("job_id\n" + "9" * 5000 + "\n", "INVALID_DATA")])
def test_bad_csv_is_a_failure_and_changes_nothing(http, session, csv, kind):
    answer = http.post(f"{V}/services/jobs/actions/cancel", content=csv,
                       headers={"Authorization": session, "Content-Type": "text/csv; charset=utf-8"})
    failure(answer, kind)
    assert status(http, session, 1012)["data"]["status"] == "QUEUED"


def test_a_csv_with_a_byte_order_mark_is_read(http, session):
    """Excel's CSV starts with a UTF-8 byte-order mark; Vault reads it like any other."""
    answer = http.post(f"{V}/services/jobs/actions/cancel", content="\ufeffjob_id\n1012\n".encode(),
                       headers={"Authorization": session, "Content-Type": "text/csv"})
    assert answer.json()["data"] == [{"responseStatus": "SUCCESS", "data": {"id": 1012}}]


def test_xml_stays_well_formed_whatever_a_stored_title_holds(http, session):
    from xml.etree import ElementTree
    put = http.put("/_cancelgate/vault/jobs/4242", json={"status": "QUEUED", "vault_id": 1776,
                                                          "title": "odd \ufffe\uffff title"})
    assert put.status_code == 200, put.text
    answer = http.get(f"{V}/services/jobs/4242", headers={"Authorization": session, "Accept": "application/xml"})
    title = ElementTree.fromstring(answer.content).find("data/title").text
    assert title == "odd \ufffd\ufffd title"


def test_xml_output_carries_the_same_data(http, session):
    json_answer = cancel(http, session, [1012, 1004]).json()
    http.post("/_cancelgate/reset", json={"fixtures": True})
    session = login(http)
    xml_answer = cancel(http, session, [1012, 1004], Accept="application/xml")
    assert xml_answer.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(xml_answer.content)
    assert root.tag == "ApiRestResult"
    assert root.findtext("responseStatus") == json_answer["responseStatus"]
    jobs = root.findall("data/job")
    assert [j.findtext("responseStatus") for j in jobs] == [r["responseStatus"] for r in json_answer["data"]]
    assert jobs[0].findtext("data/id") == "1012"
    assert jobs[1].findtext("errors/type") == "INVALID_DATA"
    assert jobs[1].findtext("errors/message") == json_answer["data"][1]["errors"]["message"]


def test_xml_errors_and_status(http, session):
    error = http.get(f"{V}/services/jobs/1002", headers={"Accept": "application/xml"})
    root = ElementTree.fromstring(error.content)
    assert root.findtext("responseStatus") == "FAILURE"
    assert root.findtext("errors/error/type") == "INVALID_SESSION_ID"
    job = ElementTree.fromstring(http.get(f"{V}/services/jobs/1002", headers={
        "Authorization": session, "Accept": "application/xml"}).content)
    assert job.findtext("data/status") == "QUEUED" and job.findtext("data/links/link/rel") == "self"


def test_job_status_shape(http, session):
    body = status(http, session, 1005)
    assert (body["responseStatus"], body["responseMessage"]) == ("SUCCESS", "OK")
    data = body["data"]
    assert data["id"] == 1005 and data["status"] == "SUCCESS" and data["method"] == "POST"
    assert data["created_date"].endswith("Z") and len(data["created_date"]) == 24
    assert data["links"][0]["href"] == "/api/v26.1/services/jobs/1005"


def test_session_errors(http, session):
    failure(http.get(f"{V}/services/jobs/1002"), "INVALID_SESSION_ID")
    failure(http.get(f"{V}/services/jobs/1002", headers={"Authorization": "0" * 64}), "INVALID_SESSION_ID")
    assert status(http, session, 1002)["responseStatus"] == "SUCCESS"
    bearer = http.get(f"{V}/services/jobs/1002", headers={"Authorization": f"Bearer {session}"})
    assert bearer.json()["responseStatus"] == "SUCCESS"
    assert http.delete(f"{V}/session", headers={"Authorization": session}).json() == {"responseStatus": "SUCCESS"}
    failure(http.get(f"{V}/services/jobs/1002", headers={"Authorization": session}), "INVALID_SESSION_ID")
    failure(cancel(http, session, [1002]), "INVALID_SESSION_ID")
    assert status(http, login(http), 1002)["data"]["status"] == "QUEUED"


def test_idle_session_expires(tmp_path):
    (tmp_path / "limits-off.yaml").write_text(LIMITS_OFF)
    server = start_server(tmp_path, "--vault-session-idle", "60", "--lifecycle", str(tmp_path / "limits-off.yaml"))
    try:
        with httpx.Client(base_url=server.url) as http:
            session = login(http)
            http.post("/_cancelgate/clock/advance", json={"seconds": 59})
            assert status(http, session, 1002)["responseStatus"] == "SUCCESS"   # use restarts the idle clock
            http.post("/_cancelgate/clock/advance", json={"seconds": 61})
            failure(http.get(f"{V}/services/jobs/1002", headers={"Authorization": session}), "INVALID_SESSION_ID")
    finally:
        server.stop()


def test_cancelling_becomes_cancelled_after_the_delay(tmp_path):
    (tmp_path / "limits-off.yaml").write_text(LIMITS_OFF)
    server = start_server(tmp_path, "--vault-cancel-delay", "3", "--lifecycle", str(tmp_path / "limits-off.yaml"))
    try:
        with httpx.Client(base_url=server.url) as http:
            session = login(http)
            cancel(http, session, [1002])
            http.post("/_cancelgate/clock/advance", json={"seconds": 2.9})
            assert status(http, session, 1002)["data"]["status"] == "CANCELLING"
            moves = http.post("/_cancelgate/clock/advance", json={"seconds": 0.1}).json()["transitions"]
            assert {"family": "vault", "id": "1002", "from": "CANCELLING", "to": "CANCELLED"}.items() <= {
                k: v for m in moves if m["id"] == "1002" for k, v in m.items()}.items()
            assert status(http, session, 1002)["data"]["status"] == "CANCELLED"
    finally:
        server.stop()


def test_cancel_is_not_in_versions_before_25_3(http, session):
    answer = http.post("/api/v25.1/services/jobs/actions/cancel", json=[{"job_id": 1002}],
                       headers={"Authorization": session})
    failure(answer, "METHOD_NOT_SUPPORTED")
    assert status(http, session, 1002)["data"]["status"] == "QUEUED"


@pytest.mark.parametrize("content,headers,kind", [
    (b'[{"job_id": 10', {"Content-Type": "application/json"}, "INVALID_DATA"),
    (b'[{"job_id": "1002"}]', {"Content-Type": "application/json"}, "INVALID_DATA"),
    (b'[{"job_id": 1002, "extra": 1}]', {"Content-Type": "application/json"}, "INVALID_DATA"),
    (b'[{"id": 1002}]', {"Content-Type": "application/json"}, "PARAMETER_REQUIRED"),
    (b'[]', {"Content-Type": "application/json"}, "INVALID_DATA"),
    (b'{"job_id": 1002}', {"Content-Type": "application/json"}, "INVALID_DATA"),
    (b'[{"job_id": 1002}]', {"Content-Type": "text/plain"}, "INVALID_DATA"),
    (b'[{"job_id": 1002}]', {"Content-Type": "application/json", "X-Pad": "x"}, None),
    (b'\xff\xfe', {"Content-Type": "application/json"}, "INVALID_DATA"),
])
def test_malformed_cancel_bodies(http, session, content, headers, kind):
    answer = http.post(f"{V}/services/jobs/actions/cancel", content=content,
                       headers={"Authorization": session, **headers})
    if kind is None:
        assert answer.json()["responseStatus"] == "SUCCESS"
        return
    failure(answer, kind)
    assert status(http, session, 1002)["data"]["status"] == "QUEUED"


def test_unknown_version_path_and_method(http, session):
    # a version in Vault's format that is not served: what Vault answers (see the spec)
    failure(http.get("/api/v99.9/services/jobs/1002", headers={"Authorization": session}), "INVALID_SESSION_ID")
    assert "v9x" in failure(http.get("/api/v9x/services/jobs/1002", headers={"Authorization": session}),
                            "INVALID_DATA")["errors"][0]["message"]
    failure(http.get(f"{V}/services/nothing", headers={"Authorization": session}), "MALFORMED_URL")
    failure(http.put(f"{V}/services/jobs/actions/cancel", headers={"Authorization": session}), "METHOD_NOT_SUPPORTED")
    failure(http.get(f"{V}/services/jobs/notanumber", headers={"Authorization": session}), "MALFORMED_URL")


def test_vault_headers_on_every_answer(http, session):
    answer = cancel(http, session, [1012])
    for header in ("X-VaultAPI-Status", "X-VaultAPI-ExecutionId", "X-VaultAPI-VaultId", "X-VaultAPI-UserId",
                   "X-VaultAPI-TruncatedSessionId", "X-VaultAPI-BurstLimit", "X-VaultAPI-BurstLimitRemaining"):
        assert answer.headers.get(header), header
    assert answer.headers["X-VaultAPI-TruncatedSessionId"] == session[:8]
    assert len(answer.headers.get_list("X-VaultAPI-ExecutionId")) == 1


def test_fixtures_hold_every_status(http, session):
    seen = {status(http, session, job_id)["data"]["status"]
            for job_id in [*CANCELLABLE.values(), *NOT_CANCELLABLE.values()]}
    assert seen == set(CANCELLABLE) | set(NOT_CANCELLABLE)


def test_control_plane_user_and_job(http):
    user = http.put("/_cancelgate/vault/users/carol", json={"password": "pw", "vault_id": 1777}).json()
    assert user["vaultId"] == 1777 and "password" not in user
    session = login(http, {"username": "carol", "password": "pw"})
    http.put("/_cancelgate/vault/jobs/777", json={"status": "SCHEDULED", "vault_id": 1777})
    assert cancel(http, session, [777]).json()["data"][0]["responseStatus"] == "SUCCESS"
    assert "pw" not in http.get("/_cancelgate/requests").text
