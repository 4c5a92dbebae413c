"""Reliability and security: crashes lose nothing acknowledged, races stay serial, bad actors
get the family's error."""
from __future__ import annotations

import concurrent.futures
import json
import random
import signal
import socket
import threading
import time
import uuid

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.config import Config

from tests.conftest import aws_client, start_server

FIXTURE_SUBMITTED = "00000000-0000-4000-8000-000000000001"


def test_workers_above_one_are_refused_with_tinydb(tmp_path):
    server = start_server(tmp_path, "--workers", "2", wait=False)
    assert server.process.wait(timeout=30) == 2
    assert "Redis" in server.output() and "--workers must be 1" in server.output()


@pytest.mark.slow
def test_crash_at_random_points_loses_no_acknowledged_change(tmp_path):
    """Cancels and submits under load; SIGKILL at a random instant; restart; everything that
    was answered 200 is there, and the database loads every time."""
    db = tmp_path / "crash.json"
    rng = random.Random(20261124)
    acknowledged_submits: list[str] = []
    acknowledged_cancels: dict[str, str] = {}
    for round_number in range(4):
        server = start_server(tmp_path, "--db", str(db))
        batch = aws_client("batch", server.url)
        # what earlier rounds acknowledged is all still there
        for start in range(0, len(acknowledged_submits), 100):
            ids = acknowledged_submits[start:start + 100]
            found = {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}
            assert set(found) == set(ids)
            for job_id in ids:
                if job_id in acknowledged_cancels:
                    assert found[job_id]["status"] == "FAILED"
                    assert found[job_id]["statusReason"] == acknowledged_cancels[job_id]
        stop = threading.Event()

        def load(server=server, stop=stop, round_number=round_number):
            client = aws_client("batch", server.url, connect_timeout=2, read_timeout=5)
            while not stop.is_set():
                try:
                    job_id = client.submit_job(jobName="crash", jobQueue="default", jobDefinition="report")["jobId"]
                    acknowledged_submits.append(job_id)
                    reason = f"round {round_number} {uuid.uuid4().hex[:6]}"
                    client.cancel_job(jobId=job_id, reason=reason)
                    acknowledged_cancels[job_id] = reason
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                    return  # the server died under us: that request was never acknowledged
        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(0.3, 1.5))
        server.stop(signal.SIGKILL)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert len(acknowledged_submits) > 20
    final = start_server(tmp_path, "--db", str(db))
    try:
        batch = aws_client("batch", final.url)
        for start in range(0, len(acknowledged_submits), 100):
            ids = acknowledged_submits[start:start + 100]
            found = {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}
            assert set(found) == set(ids)
            assert all(found[i]["statusReason"] == acknowledged_cancels[i]
                       for i in ids if i in acknowledged_cancels)
    finally:
        final.stop()
    json.loads(db.read_text())  # a clean stop leaves one loadable TinyDB file


@pytest.mark.both_stores
def test_fifty_concurrent_clients_stay_serialisable(live, http):
    """Cancels, terminates and describes race on overlapping jobs. Every job must end where some
    serial order of the acknowledged requests puts it."""
    jobs = {}
    for index in range(10):
        job_id = str(uuid.uuid4())
        status = ["SUBMITTED", "RUNNABLE", "RUNNING", "PENDING", "SUCCEEDED"][index % 5]
        http.put(f"/_cancelgate/batch/jobs/{job_id}", json={
            "jobName": "race", "jobQueue": "race", "jobDefinition": "d", "status": status})
        jobs[job_id] = status
    sent: dict[str, list[tuple[str, str]]] = {job_id: [] for job_id in jobs}
    lock = threading.Lock()

    def client_run(worker: int) -> list[int]:
        rng = random.Random(worker)
        statuses = []
        with httpx.Client(base_url=live.url, timeout=30) as client:
            for step in range(6):
                job_id = rng.choice(list(jobs))
                op = rng.choice(["canceljob", "terminatejob", "describejobs"])
                if op == "describejobs":
                    response = client.post("/v1/describejobs", json={"jobs": list(jobs)})
                else:
                    reason = f"{op}-{worker}-{step}"
                    response = client.post(f"/v1/{op}", json={"jobId": job_id, "reason": reason})
                    if response.status_code == 200:
                        with lock:
                            sent[job_id].append((op, reason))
                statuses.append(response.status_code)
        return statuses

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        codes = [c for result in pool.map(client_run, range(50)) for c in result]
    assert set(codes) == {200}
    final = {j["jobId"]: j for j in http.post("/v1/describejobs", json={"jobs": list(jobs)}).json()["jobs"]}
    for job_id, start in jobs.items():
        job, ops = final[job_id], sent[job_id]
        reasons = {reason for _, reason in ops}
        if start == "SUCCEEDED" or not ops:
            assert job["status"] == start
        elif start in ("SUBMITTED", "PENDING"):
            assert job["status"] == "FAILED" and job["isCancelled"] and job["statusReason"] in reasons
        elif start == "RUNNABLE":
            assert job["status"] == "RUNNABLE"   # the cancel waits for the head of the queue
        elif any(op == "terminatejob" for op, _ in ops):   # RUNNING
            assert job["status"] == "FAILED" and job["isTerminated"]
            assert job["statusReason"] in {r for op, r in ops if op == "terminatejob"}
        else:
            assert job["status"] == "RUNNING"


def _raw_request(url: str, payload: bytes, pause: float | None = None) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(payload)
        if pause:
            time.sleep(pause)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_stalled_body_times_out_in_the_aws_wire(tmp_path):
    server = start_server(tmp_path, "--body-timeout", "1")
    try:
        head = (b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\nConnection: close\r\n\r\n{\"jobId\": ")
        answer = _raw_request(server.url, head)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"x-amzn-errortype: clientexception" in answer.lower()
        assert httpx.post(f"{server.url}/v1/describejobs", json={"jobs": [FIXTURE_SUBMITTED]}
                          ).json()["jobs"][0]["status"] == "SUBMITTED"
    finally:
        server.stop()


def test_truncated_body_changes_nothing_and_server_keeps_serving(live, http):
    before = http.get("/_cancelgate/health").json()
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 80\r\n\r\n{\"jobId\": \"00000000-0000-4000-8000-0000")
    # the client hung up mid-body: the cancel never happened and the server still answers
    assert http.get("/_cancelgate/health").json() == before
    job = http.post("/v1/describejobs", json={"jobs": [FIXTURE_SUBMITTED]}).json()["jobs"][0]
    assert job["status"] == "SUBMITTED"


@pytest.mark.parametrize("method,path", [
    ("POST", "/_cancelgate/batch/queues/..%2F..%2Fetc/dispatch"),
    ("PUT", "/_cancelgate/batch/jobs/..%2F..%2Fpasswd"),
    ("POST", "/v1/../_cancelgate/reset"),
    ("POST", "/v1/%2e%2e/_cancelgate/reset"),
])
def test_path_traversal_is_refused(live, http, method, path):
    """Sent byte for byte (HTTP clients would normalise the dots away)."""
    before = http.get("/_cancelgate/health").json()
    body = b'{"fixtures": false}'
    answer = _raw_request(live.url, f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode()
                          + b"Content-Type: application/json\r\nConnection: close\r\n"
                          + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer
    assert http.get("/_cancelgate/health").json() == before


def test_header_injection_is_not_echoed(live):
    raw = (b"POST /v1/canceljob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"X-Evil: a\r\n b: injected\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    answer = _raw_request(live.url, raw)
    assert b"injected" not in answer.split(b"\r\n\r\n")[0]
    assert answer.startswith(b"HTTP/1.1 400")


def test_admin_token_guards_the_control_plane(tmp_path):
    server = start_server(tmp_path, "--admin-token", "s3cret")
    try:
        denied = httpx.get(f"{server.url}/_cancelgate/health")
        assert denied.status_code == 401 and denied.json()["status"] == 401
        assert httpx.post(f"{server.url}/_cancelgate/reset", json={"fixtures": False},
                          headers={"Authorization": "Bearer wrong"}).status_code == 401
        allowed = httpx.get(f"{server.url}/_cancelgate/health", headers={"Authorization": "Bearer s3cret"})
        assert allowed.status_code == 200
        # the emulated APIs are not behind the admin token
        assert httpx.post(f"{server.url}/v1/describejobs", json={"jobs": []}).status_code == 200
    finally:
        server.stop()


def test_sigv4_is_verified_with_configured_credentials(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDGOOD\naws_secret_access_key = right-secret\n")
    server = start_server(tmp_path, "--aws-credentials", str(credentials))
    try:
        def client(key: str, secret: str):
            return boto3.client("batch", endpoint_url=server.url, region_name="us-east-1",
                                aws_access_key_id=key, aws_secret_access_key=secret,
                                config=Config(retries={"total_max_attempts": 1}))
        good = client("AKIDGOOD", "right-secret")
        good.cancel_job(jobId=FIXTURE_SUBMITTED, reason="signed")
        assert good.describe_jobs(jobs=[FIXTURE_SUBMITTED])["jobs"][0]["statusReason"] == "signed"
        with pytest.raises(botocore.exceptions.ClientError) as wrong_secret:
            client("AKIDGOOD", "wrong-secret").cancel_job(jobId=FIXTURE_SUBMITTED, reason="x")
        assert wrong_secret.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert wrong_secret.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(botocore.exceptions.ClientError) as unknown_key:
            client("AKIDOTHER", "right-secret").describe_jobs(jobs=[])
        assert unknown_key.value.response["Error"]["Code"] == "UnrecognizedClientException"
        unsigned = httpx.post(f"{server.url}/v1/describejobs", json={"jobs": []})
        assert unsigned.status_code == 403
        assert unsigned.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        stale = httpx.post(f"{server.url}/v1/describejobs", json={"jobs": []}, headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDGOOD/20200101/us-east-1/batch/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "X-Amz-Date": "20200101T000000Z"})
        assert stale.status_code == 403 and "expired" in stale.json()["message"]
        tampered = good.meta.events
        tampered.register("before-send.batch.CancelJob",
                          lambda request, **_: setattr(request, "body", request.body.replace(b"original", b"tampered")))
        with pytest.raises(botocore.exceptions.ClientError) as swapped:
            good.cancel_job(jobId=FIXTURE_SUBMITTED, reason="original")
        assert swapped.value.response["Error"]["Code"] == "InvalidSignatureException"
    finally:
        server.stop()
