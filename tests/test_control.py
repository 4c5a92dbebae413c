"""The control plane: health, reset, putting jobs, dispatching queues."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server

pytestmark = pytest.mark.both_stores


def test_health_counts_fixture_jobs(http):
    body = http.get("/_cancelgate/health").json()
    assert body["status"] == "ok" and body["counts"]["batch_jobs"] == 15


def test_reset_empties_and_restores(http):
    assert http.post("/_cancelgate/reset", json={"fixtures": False}).json()["counts"] == {}
    assert http.post("/v1/describejobs", json={"jobs": ["00000000-0000-4000-8000-000000000001"]}).json() == {"jobs": []}
    assert http.post("/_cancelgate/reset", json={"fixtures": True}).json()["counts"]["batch_jobs"] == 15


def test_reset_needs_a_boolean(http):
    response = http.post("/_cancelgate/reset", json={"fixtures": "yes"})
    assert response.status_code == 400
    assert response.json()["status"] == 400 and "fixtures" in response.json()["detail"]


def test_put_job_validates_and_stores(http):
    job_id = "11111111-2222-4333-8444-555555555555"
    bad = http.put(f"/_cancelgate/batch/jobs/{job_id}", json={"status": "RUNNING"})
    assert bad.status_code == 400
    good = http.put(f"/_cancelgate/batch/jobs/{job_id}", json={
        "jobName": "n", "jobQueue": "default", "jobDefinition": "d", "status": "RUNNING"})
    assert good.status_code == 200
    assert good.json()["jobArn"].endswith(f"job/{job_id}")
    described = http.post("/v1/describejobs", json={"jobs": [job_id]}).json()["jobs"][0]
    # the control plane answers the job as stored; DescribeJobs as AWS shows it (queue and
    # definition as ARNs, container and attempts)
    same = ("jobId", "jobArn", "jobName", "status", "createdAt")
    assert {k: described[k] for k in same} == {k: good.json()[k] for k in same}
    assert described["jobQueue"] == "arn:aws:batch:us-east-1:123456789012:job-queue/default"
    assert described["jobDefinition"] == "arn:aws:batch:us-east-1:123456789012:job-definition/d"


def test_dispatch_of_empty_queue_is_404(http):
    response = http.post("/_cancelgate/batch/queues/empty-queue/dispatch")
    assert response.status_code == 404
    assert "RUNNABLE" in response.json()["detail"]


def test_unknown_control_path_is_problem_json(http):
    response = http.get("/_cancelgate/nothing-here")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_path_parameter_with_trailing_newline_creates_nothing(http):
    """Python's `$` matches before a final newline; neither routing nor validation may let
    `<id>\n` through as a job id."""
    before = http.get("/_cancelgate/health").json()
    response = http.put("/_cancelgate/batch/jobs/11111111-2222-4333-8444-555555555555%0A", json={
        "jobName": "n", "jobQueue": "default", "jobDefinition": "d", "status": "RUNNING"})
    assert 400 <= response.status_code < 500
    assert http.get("/_cancelgate/health").json() == before


def test_dispatch_then_lifecycle_never_moves_times_back(tmp_path):
    """A job dispatched by hand starts its STARTING time then: the lifecycle moves it to RUNNING
    a STARTING duration later, with a startedAt after the dispatch (it once went back to the
    job's RUNNABLE time). A long RUNNING job fills the queue's one slot, so only the hand
    dispatch can start the waiting job."""
    life = tmp_path / "life.yaml"
    life.write_text("batch:\n  durations:\n    RUNNING: 100000\n  capacity:\n    default: 1\n")
    server = start_server(tmp_path, "--lifecycle", str(life), "--no-fixtures")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            def put(job_id, status):
                answer = http.put(f"/_cancelgate/batch/jobs/{job_id}", json={
                    "jobName": job_id[:4], "jobQueue": "q", "jobDefinition": "d", "status": status})
                assert answer.status_code == 200, answer.text
            put("11111111-3333-4444-8555-666666666666", "RUNNING")
            job_id = "22222222-3333-4444-8555-666666666666"
            put(job_id, "RUNNABLE")

            def advance(seconds):
                return http.post("/_cancelgate/clock/advance", json={"seconds": seconds}).json()["transitions"]
            assert advance(10_000) == []
            dispatched_at = http.get("/_cancelgate/clock").json()["now"]
            assert http.post("/_cancelgate/batch/queues/q/dispatch").json()["status"] == "STARTING"
            assert advance(1) == []
            moved = advance(5)
            assert [(t["id"], t["from"], t["to"]) for t in moved] == [(job_id, "STARTING", "RUNNING")]
            job = http.post("/v1/describejobs", json={"jobs": [job_id]}).json()["jobs"][0]
            assert job["status"] == "RUNNING" and job["startedAt"] == dispatched_at + 2000
    finally:
        server.stop()


def test_reset_without_a_body_restores_the_fixtures(http):
    http.post("/_cancelgate/reset", json={"fixtures": False})
    restored = http.post("/_cancelgate/reset")
    assert restored.status_code == 200, restored.text
    assert restored.json()["counts"]["batch_jobs"] == 15
    assert restored.json()["families"]["batch"]["batch_jobs"] == 15
