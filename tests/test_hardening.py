"""Hostile and odd input from the adversarial pass (issue 17): each answered in the family's
wire, with state unchanged."""
from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid

import httpx
import pytest

from tests.conftest import start_server

RUNNABLE = "00000000-0000-4000-8000-000000000006"
SUBMITTED = "00000000-0000-4000-8000-000000000001"


def status(http, job_id: str) -> str:
    return http.post("/v1/describejobs", json={"jobs": [job_id]}).json()["jobs"][0]["status"]


# --- SigV4 covers the body, the service and the region ---------------------------------------

@pytest.fixture
def signed_server(tmp_path):
    pytest.importorskip("botocore")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDGOOD\naws_secret_access_key = right-secret\n")
    server = start_server(tmp_path, "--aws-credentials", str(credentials), "--region", "us-east-1",
                          "--region", "eu-west-1")
    yield server
    server.stop()


def signed_headers(url: str, body: bytes, *, service="batch", region="us-east-1", content_sha=None) -> dict:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    headers = {"Content-Type": "application/json"}
    if content_sha is not None:
        headers["X-Amz-Content-SHA256"] = content_sha
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials("AKIDGOOD", "right-secret"), service, region).add_auth(request)
    return dict(request.headers.items())


def test_a_signed_body_cannot_be_swapped_for_another(signed_server):
    url = f"{signed_server.url}/v1/canceljob"
    body_a = json.dumps({"jobId": SUBMITTED, "reason": "cancel A"}).encode()
    body_b = json.dumps({"jobId": RUNNABLE, "reason": "cancel B"}).encode()
    headers = signed_headers(url, body_a, content_sha=hashlib.sha256(body_a).hexdigest())
    replayed = httpx.post(url, content=body_b, headers=headers)
    assert replayed.status_code == 403 and replayed.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert "x-amz-content-sha256" in replayed.json()["message"]
    unsigned_payload = httpx.post(url, content=body_b,
                                  headers=signed_headers(url, body_b, content_sha="UNSIGNED-PAYLOAD"))
    assert unsigned_payload.status_code == 403
    # neither refused body recorded a cancel on job B: at the head of its queue it starts
    moved = httpx.post(f"{signed_server.url}/_cancelgate/batch/queues/default/dispatch").json()
    assert moved == {"jobId": RUNNABLE, "status": "STARTING"}
    good = httpx.post(url, content=body_a,
                      headers=signed_headers(url, body_a, content_sha=hashlib.sha256(body_a).hexdigest()))
    assert good.status_code == 200, good.text


@pytest.mark.parametrize("service, region, words", [
    ("s3", "eu-west-1", "scoped to correct service: 'batch'"),
    ("batch", "mars-north-1", "valid region"),
    ("batch", "us-west-2", "valid region"),       # an AWS region, but not one --region allows
])
def test_a_signature_of_another_service_or_region_is_refused(signed_server, service, region, words):
    url = f"{signed_server.url}/v1/canceljob"
    body = json.dumps({"jobId": RUNNABLE, "reason": "scoped"}).encode()
    answer = httpx.post(url, content=body, headers=signed_headers(url, body, service=service, region=region))
    assert answer.status_code == 403 and answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert words in answer.json()["message"]


def test_a_region_not_of_aws_is_refused_at_start(tmp_path):
    import sys
    from tests.conftest import ROOT
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = A\naws_secret_access_key = B\n")
    run = subprocess.run([sys.executable, "-m", "cancelgate.cli", "serve", "--aws-credentials", str(credentials),
                          "--region", "mars-north-1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--region mars-north-1 is not an AWS region" in run.stderr


# --- cross-site requests ------------------------------------------------------------------------

def test_a_web_page_cannot_change_state(live, http):
    evil = {"Origin": "https://evil.example"}
    reset = http.post("/_cancelgate/reset", content=b'{"fixtures": false}', headers={**evil, "Content-Type": ""})
    assert reset.status_code == 403 and reset.json()["status"] == 403
    cancel = http.post("/v1/canceljob", json={"jobId": RUNNABLE, "reason": "from a page"},
                       headers={"Sec-Fetch-Site": "cross-site"})
    assert cancel.status_code == 403 and cancel.headers["x-amzn-ErrorType"] == "ClientException"
    no_type = http.post("/v1/canceljob", content=json.dumps({"jobId": RUNNABLE, "reason": "x"}),
                        headers={"Sec-Fetch-Site": "same-origin", "Content-Type": ""})
    assert no_type.status_code == 415
    assert http.get("/_cancelgate/health").json()["counts"]["batch_jobs"] == 15
    rebound = http.post("/v1/canceljob", json={"jobId": RUNNABLE, "reason": "rebinding"},
                        headers={"Host": f"evil.example:{live.url.rsplit(':', 1)[1]}",
                                 "Origin": f"http://evil.example:{live.url.rsplit(':', 1)[1]}",
                                 "Sec-Fetch-Site": "same-origin"})
    assert rebound.status_code == 403 and "--allow-host" in rebound.json()["message"]
    same_origin = http.post("/v1/canceljob", json={"jobId": SUBMITTED, "reason": "our own page"},
                            headers={"Origin": live.url, "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 200
    plain = http.post("/v1/canceljob", content=json.dumps({"jobId": RUNNABLE, "reason": "curl"}),
                      headers={"Content-Type": ""})
    assert plain.status_code == 200   # no browser, no Content-Type: still read as JSON


# --- input that once got a 500 or a wrong answer ------------------------------------------------

def test_a_lone_surrogate_is_a_400_in_each_wire(live, http):
    reason = http.post("/v1/canceljob", content=b'{"jobId": "%s", "reason": "\\ud800"}' % RUNNABLE.encode(),
                       headers={"Content-Type": "application/json"})
    assert reason.status_code == 400 and reason.headers["x-amzn-ErrorType"] == "ClientException"
    assert "surrogate" in reason.json()["message"]
    details = http.put("/things/device-1/jobs/firmware-update/cancel",
                       content=b'{"statusDetails": {"k": "\\udfff"}}', headers={"Content-Type": "application/json"})
    assert details.status_code == 400 and details.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    control = http.put(f"/_cancelgate/vault/jobs/{uuid.uuid4().int % 10**6 + 50000}",
                       content=b'{"status": "QUEUED", "vault_id": 1776, "title": "\\ud83d"}',
                       headers={"Content-Type": "application/json"})
    assert control.status_code == 400
    emoji = http.post("/v1/canceljob", json={"jobId": RUNNABLE, "reason": "ok \U0001F600"})
    assert emoji.status_code == 200   # a whole surrogate pair is a character like any other
    assert status(http, RUNNABLE) == "RUNNABLE"


def test_a_repeated_scalar_query_parameter_is_refused(live, iot, http):
    answer = http.put("/things/device-2/jobs/firmware-update/cancel?force=false&force=true")
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "more than once" in answer.json()["message"]
    execution = iot.describe_job_execution(thingName="device-2", jobId="firmware-update")["execution"]
    assert execution["status"] == "IN_PROGRESS"


def test_c1_control_characters_are_refused_in_a_reason(batch, http):
    with pytest.raises(batch.exceptions.ClientException):
        batch.cancel_job(jobId=RUNNABLE, reason="next\u0085line")
    assert http.post("/_cancelgate/batch/queues/default/dispatch").json() == {"jobId": RUNNABLE, "status": "STARTING"}


def test_a_job_cannot_target_things_of_another_account_or_region(iot):
    for target in ("arn:aws:iot:us-east-1:999999999999:thing/device-1",
                   "arn:aws:iot:eu-west-1:123456789012:thing/device-1"):
        with pytest.raises(iot.exceptions.ResourceNotFoundException) as refused:
            iot.create_job(jobId=f"elsewhere-{uuid.uuid4().hex[:6]}", targets=[target], document="{}")
        assert "of this account and region" in str(refused.value)
    assert [job["jobId"] for job in iot.list_jobs()["jobs"] if job["jobId"].startswith("elsewhere-")] == []


# --- workers and exposure -------------------------------------------------------------------------

def test_workers_get_no_secret_in_their_environment(tmp_path, redis_url):
    pytest.importorskip("botocore")
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDWORKER\naws_secret_access_key = worker-secret-value\n")
    server = start_server(tmp_path, "--store", redis_url, "--store-prefix", f"w-{uuid.uuid4().hex[:8]}",
                          "--workers", "2", "--admin-token", "admin-token-value", "--aws-credentials", str(credentials))
    try:
        assert httpx.get(f"{server.url}/_cancelgate/health").status_code == 401
        ok = httpx.get(f"{server.url}/_cancelgate/health", headers={"Authorization": "Bearer admin-token-value"})
        assert ok.status_code == 200
        deadline = time.monotonic() + 20
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline:
            found = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
            workers = found.stdout.split()
            time.sleep(0.2)
        assert workers
        for pid in [str(server.process.pid), *workers]:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                seen = environ.read()
            assert b"admin-token-value" not in seen and b"worker-secret-value" not in seen
    finally:
        server.stop()


def test_exposed_without_an_admin_token_warns_loudly(tmp_path):
    server = start_server(tmp_path, "--host", "0.0.0.0")
    try:
        assert "without --admin-token" in server.output()
    finally:
        server.stop()
