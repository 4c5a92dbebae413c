"""A job no lifecycle rule can handle is set aside; every other job keeps moving.

The poison is a fixture job the document checks accept but the dispatch rule cannot read: a
RUNNABLE job whose recorded cancel (`_stop`, our own bookkeeping) is a string. Before quarantine, one such job raised on
every tick: `/clock/advance` answered 500 and nothing moved again, with `--db` across restarts.
"""
from __future__ import annotations

import json

import httpx
import yaml

from tests.conftest import aws_client, start_server

POISON = "00000000-0000-4000-8000-00000000dead"
HEALTHY = "00000000-0000-4000-8000-00000000beef"
LIFECYCLE = {"batch": {"durations": {"SUBMITTED": 1, "PENDING": 1, "STARTING": 1, "RUNNING": 5},
                       "capacity": {"default": 5}}}


def _fixtures(folder) -> None:
    def job(job_id: str, status: str, **extra) -> dict:
        return {"jobId": job_id, "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job_id}", "jobName": status,
                "jobQueue": "q", "jobDefinition": "d:1", "status": status, "createdAt": 1, "dependsOn": [], **extra}
    jobs = {POISON: job(POISON, "RUNNABLE", schedulingPriority=9, _stop="soon"), HEALTHY: job(HEALTHY, "SUBMITTED")}
    (folder / "batch.json").write_text(json.dumps({"batch_jobs": jobs}))


def test_a_poisoned_job_is_quarantined_and_the_others_keep_moving(tmp_path):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    _fixtures(fixtures)
    (tmp_path / "lifecycle.yaml").write_text(yaml.safe_dump(LIFECYCLE))
    server = start_server(tmp_path, "--fixtures", str(fixtures), "--lifecycle", str(tmp_path / "lifecycle.yaml"),
                          "--db", str(tmp_path / "state.json"))
    try:
        for _ in range(3):
            answer = httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 5})
            assert answer.status_code == 200, answer.text
        batch = aws_client("batch", server.url)
        jobs = {j["jobId"]: j for j in batch.describe_jobs(jobs=[POISON, HEALTHY])["jobs"]}
        assert jobs[HEALTHY]["status"] == "SUCCEEDED"
        assert jobs[POISON]["status"] == "RUNNABLE"           # left as it is
        health = httpx.get(f"{server.url}/_cancelgate/health").json()
        flagged = health["lifecycle"]["quarantined"]
        assert list(flagged) == [f"batch_jobs/{POISON}"]
        assert "TypeError" in flagged[f"batch_jobs/{POISON}"]["error"]
        put = httpx.put(f"{server.url}/_cancelgate/batch/jobs/{POISON}",   # replaced, it moves again
                        json={"jobName": "j", "jobQueue": "q", "jobDefinition": "d:1", "status": "RUNNING"})
        assert put.status_code == 200, put.text
        httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 10}).raise_for_status()
        assert batch.describe_jobs(jobs=[POISON])["jobs"][0]["status"] == "SUCCEEDED"
    finally:
        server.stop()
    log = server.output()
    assert log.count(f"quarantined batch_jobs/{POISON}") == 1, log
    assert "Traceback" not in log


def test_quarantine_survives_a_restart_with_db(tmp_path):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    _fixtures(fixtures)
    (tmp_path / "lifecycle.yaml").write_text(yaml.safe_dump(LIFECYCLE))
    args = ("--fixtures", str(fixtures), "--lifecycle", str(tmp_path / "lifecycle.yaml"),
            "--db", str(tmp_path / "s.json"))
    server = start_server(tmp_path, *args)
    try:
        assert httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 1}).status_code == 200
    finally:
        server.stop()
    again = start_server(tmp_path, *args)
    try:
        answer = httpx.post(f"{again.url}/_cancelgate/clock/advance", json={"seconds": 20})
        assert answer.status_code == 200, answer.text
        assert {t["id"] for t in answer.json()["transitions"]} == {HEALTHY}
    finally:
        again.stop()
    assert "quarantined" not in again.output()      # set aside once, for good
