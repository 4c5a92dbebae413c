"""Faults and latency by rule and by header, and the request journal."""
from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.both_stores

JOB = "00000000-0000-4000-8000-000000000001"          # SUBMITTED in the fixtures


@pytest.fixture(autouse=True)
def _clean(http):
    http.delete("/_cancelgate/faults")
    http.delete("/_cancelgate/requests")
    yield
    http.delete("/_cancelgate/faults")


def put_rules(http, *rules) -> list[dict]:
    response = http.put("/_cancelgate/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text
    return response.json()["rules"]


def job(http, job_id=JOB) -> dict:
    return http.post("/v1/describejobs", json={"jobs": [job_id]}).json()["jobs"][0]


def test_next_two_calls_fail_then_pass_and_state_is_untouched(http):
    put_rules(http, {"match": {"operationId": "CancelJob"}, "fault": {"code": "ServerException"}, "count": 2})
    answers = [http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 500, 200]
    assert answers[0].headers["x-amzn-ErrorType"] == "ServerException"
    assert answers[0].json()["__type"] == "ServerException"
    (rule,) = http.get("/_cancelgate/faults").json()["rules"]
    assert (rule["fired"], rule["remaining"]) == (2, 0)
    assert job(http)["status"] == "FAILED"   # only the third call ran


def test_faulted_calls_change_nothing(http):
    put_rules(http, {"match": {"family": "batch"}, "fault": {"code": "ServerException"}})
    assert http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"}).status_code == 500
    http.delete("/_cancelgate/faults")
    assert job(http)["status"] == "SUBMITTED"


def test_boto3_standard_retries_ride_through_two_server_errors(live, http):
    put_rules(http, {"match": {"operationId": "CancelJob"}, "fault": {"code": "ServerException"}, "count": 2})
    batch = boto3.client("batch", endpoint_url=live.url, region_name="us-east-1",
                         aws_access_key_id="a", aws_secret_access_key="b",
                         config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    batch.cancel_job(jobId=JOB, reason="third time lucky")
    assert job(http)["statusReason"] == "third time lucky"


def test_probability_zero_never_fires_and_other_operations_are_not_matched(http):
    put_rules(http, {"match": {"operationId": "CancelJob"}, "fault": {"code": "ServerException"}, "probability": 0},
              {"match": {"operationId": "TerminateJob"}, "fault": {"code": "ServerException"}})
    assert http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"}).status_code == 200
    assert [r["fired"] for r in http.get("/_cancelgate/faults").json()["rules"]] == [0, 0]


def test_latency_rule_delays_without_failing(http):
    put_rules(http, {"match": {"operationId": "DescribeJobs"}, "latency": {"minMs": 300}})
    started = time.monotonic()
    assert http.post("/v1/describejobs", json={"jobs": []}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_header_injects_one_fault(http):
    first = http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"},
                      headers={"x-cancelgate-fault": "ServerException"})
    assert first.status_code == 500 and first.json()["__type"] == "ServerException"
    assert job(http)["status"] == "SUBMITTED"
    assert http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"}).status_code == 200


def test_fault_header_with_an_unknown_code_is_refused_not_echoed(http):
    answer = http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"},
                       headers={"x-cancelgate-fault": "Evil\xe9Injected".encode("latin-1")})
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "ClientException"
    assert job(http)["status"] == "SUBMITTED"


def test_journal_records_requests_without_secrets(http):
    http.post("/v1/canceljob", json={"jobId": JOB, "reason": "r"}, headers={"Authorization": "secret-token"})
    http.post("/v1/canceljob", json={"jobId": "", "reason": "r"})   # an empty id is the 400 (AWS: any other is 200)
    entries = http.get("/_cancelgate/requests", params={"operationId": "CancelJob"}).json()["requests"]
    assert [(e["status"], e["errorCode"], e["family"]) for e in entries] == [
        (200, None, "batch"), (400, "ClientException", "batch")]
    assert entries[0]["touched"] == [JOB] and entries[0]["durationMs"] > 0
    everything = http.get("/_cancelgate/requests").text
    assert "secret-token" not in everything
    only_errors = http.get("/_cancelgate/requests", params={"status": 400}).json()["requests"]
    assert [e["path"] for e in only_errors] == ["/v1/canceljob"]


def test_journal_is_bounded_and_can_be_switched_off(tmp_path):
    from tests.conftest import start_server
    import httpx
    small = start_server(tmp_path, "--journal-size", "3")
    off = start_server(tmp_path, "--journal-size", "0")
    try:
        for _ in range(5):
            httpx.post(f"{small.url}/v1/describejobs", json={"jobs": []})
            httpx.post(f"{off.url}/v1/describejobs", json={"jobs": []})
        assert len(httpx.get(f"{small.url}/_cancelgate/requests").json()["requests"]) == 3
        assert httpx.get(f"{off.url}/_cancelgate/requests").json()["requests"] == []
    finally:
        small.stop()
        off.stop()
