"""Jobs that move by themselves, walked through with the manual clock."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
import yaml

from tests.conftest import aws_client, start_server

pytestmark = pytest.mark.both_stores

LIFECYCLE = {
    "batch": {"durations": {"SUBMITTED": 1, "PENDING": 1, "STARTING": 2, "RUNNING": 10},
              "capacity": {"default": 2, "queues": {"solo": 1}}},
}


@pytest.fixture(scope="module")
def clocked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lifecycle")
    config = tmp / "lifecycle.yaml"
    config.write_text(yaml.safe_dump(LIFECYCLE))
    server = start_server(tmp, "--lifecycle", str(config), "--no-fixtures")
    yield server
    server.stop()


@pytest.fixture
def world(clocked):
    httpx.post(f"{clocked.url}/_cancelgate/reset", json={"fixtures": False}).raise_for_status()
    return clocked


def advance(server, seconds: float) -> list[dict]:
    response = httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text
    return response.json()["transitions"]


def status(batch, job_id: str) -> str:
    return batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]


def put(server, job_id: str, status: str, **fields) -> None:
    body = {"jobName": "j", "jobQueue": "solo", "jobDefinition": "d", "status": status, **fields}
    httpx.put(f"{server.url}/_cancelgate/batch/jobs/{job_id}", json=body).raise_for_status()


def account(batch, *queues: str) -> None:
    """What SubmitJob needs in AWS (the server starts with no fixtures): job definition `d` and
    the queues, with no compute environment, so the lifecycle file's capacity applies."""
    batch.register_job_definition(jobDefinitionName="d", type="container", containerProperties={"image": "busybox"})
    for queue in queues:
        batch.create_job_queue(jobQueueName=queue, priority=1)


def test_clock_is_manual_and_reports_itself(world):
    before = httpx.get(f"{world.url}/_cancelgate/clock").json()
    assert before["mode"] == "manual"
    after = httpx.post(f"{world.url}/_cancelgate/clock/advance", json={"seconds": 1.5}).json()
    assert after["now"] == before["now"] + 1500
    assert httpx.get(f"{world.url}/_cancelgate/clock").json()["now"] == after["now"]


def test_real_clock_refuses_to_be_advanced(tmp_path):
    server = start_server(tmp_path, "--clock", "real", "--no-fixtures")
    try:
        response = httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 1})
        assert response.status_code == 409 and "--clock manual" in response.json()["detail"]
        assert httpx.get(f"{server.url}/_cancelgate/clock").json()["mode"] == "real"
    finally:
        server.stop()


def test_real_clock_moves_jobs_by_itself(tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump({"batch": {"durations": {"SUBMITTED": 0.2, "PENDING": 0.2,
                                                              "STARTING": 0.2, "RUNNING": 0.2},
                                                "capacity": {"default": 2}}}))
    server = start_server(tmp_path, "--clock", "real", "--no-fixtures", "--lifecycle", str(config))
    try:
        batch = aws_client("batch", server.url)
        account(batch, "q")
        job = batch.submit_job(jobName="alive", jobQueue="q", jobDefinition="d")["jobId"]
        for _ in range(100):  # bounded: 10 s at most
            if status(batch, job) == "SUCCEEDED":
                break
            time.sleep(0.1)
        assert status(batch, job) == "SUCCEEDED"
    finally:
        server.stop()


def test_a_job_lives_its_whole_life(world):
    batch = aws_client("batch", world.url)
    account(batch, "solo")
    job = batch.submit_job(jobName="life", jobQueue="solo", jobDefinition="d")["jobId"]
    seen = []
    for seconds in (1, 1, 2, 10):
        advance(world, seconds)
        seen.append(status(batch, job))
    # RUNNABLE lasts no time at all when the queue has a free slot
    assert seen == ["PENDING", "STARTING", "RUNNING", "SUCCEEDED"]
    detail = batch.describe_jobs(jobs=[job])["jobs"][0]
    assert detail["startedAt"] < detail["stoppedAt"]
    assert detail["stoppedAt"] - detail["startedAt"] == 10_000


def test_runnable_cancel_at_capacity_one_fails_at_the_head_without_starting(world):
    batch = aws_client("batch", world.url)
    runner, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    put(world, runner, "RUNNING", startedAt=1)
    put(world, waiting, "RUNNABLE")
    batch.cancel_job(jobId=waiting, reason="not needed after all")
    advance(world, 5)
    assert status(batch, waiting) == "RUNNABLE"        # the only slot is taken
    transitions = advance(world, 5)
    assert [(t["id"], t["to"]) for t in transitions] == [(runner, "SUCCEEDED"), (waiting, "FAILED")]
    detail = batch.describe_jobs(jobs=[waiting])["jobs"][0]
    assert detail["isCancelled"] is True and detail["statusReason"] == "not needed after all"
    assert "startedAt" not in detail                       # it never was STARTING


def test_queue_dispatches_by_priority_then_age(world):
    batch = aws_client("batch", world.url)
    put(world, str(uuid.uuid4()), "RUNNING", startedAt=1)
    low_old, high_new = str(uuid.uuid4()), str(uuid.uuid4())
    put(world, low_old, "RUNNABLE", createdAt=1000, schedulingPriority=1)
    put(world, high_new, "RUNNABLE", createdAt=2000, schedulingPriority=9)
    advance(world, 10)
    assert (status(batch, high_new), status(batch, low_old)) == ("STARTING", "RUNNABLE")


def test_dependency_chain_waits_and_a_failed_dependency_fails_dependents(world):
    batch = aws_client("batch", world.url)
    account(batch, "wide")
    first = batch.submit_job(jobName="a", jobQueue="wide", jobDefinition="d")["jobId"]
    second = batch.submit_job(jobName="b", jobQueue="wide", jobDefinition="d",
                              dependsOn=[{"jobId": first}])["jobId"]
    third = batch.submit_job(jobName="c", jobQueue="wide", jobDefinition="d",
                             dependsOn=[{"jobId": second}])["jobId"]
    advance(world, 5)
    assert [status(batch, j) for j in (first, second, third)] == ["RUNNING", "PENDING", "PENDING"]
    advance(world, 10)   # first succeeds at t=14; second becomes RUNNABLE one second later
    assert [status(batch, j) for j in (first, second, third)] == ["SUCCEEDED", "STARTING", "PENDING"]
    batch.terminate_job(jobId=second, reason="stop the chain")
    advance(world, 1)
    detail = batch.describe_jobs(jobs=[third])["jobs"][0]
    assert detail["status"] == "FAILED" and second in detail["statusReason"]
    assert "isCancelled" not in detail


def test_array_job_cancelled_midway(world):
    batch = aws_client("batch", world.url)
    account(batch, "pair")
    parent = batch.submit_job(jobName="fan", jobQueue="pair", jobDefinition="d",
                              arrayProperties={"size": 5})["jobId"]
    children = [f"{parent}:{i}" for i in range(5)]
    advance(world, 5)   # two slots in queue "pair": two children run, three wait
    states = [status(batch, c) for c in children]
    assert states.count("RUNNING") == 2 and states.count("RUNNABLE") == 3
    assert status(batch, parent) == "PENDING"
    batch.cancel_job(jobId=parent, reason="enough")
    # RUNNABLE children keep the cancel and fail as they reach the head; the running two finish
    advance(world, 20)
    final = {c: batch.describe_jobs(jobs=[c])["jobs"][0] for c in children}
    assert sorted(j["status"] for j in final.values()) == ["FAILED"] * 3 + ["SUCCEEDED"] * 2
    assert all(j.get("isCancelled") for j in final.values() if j["status"] == "FAILED")
    assert all("startedAt" not in j for j in final.values() if j["status"] == "FAILED")
    summary = batch.describe_jobs(jobs=[parent])["jobs"][0]
    assert summary["status"] == "FAILED" and summary["isCancelled"] is True
    assert summary["arrayProperties"]["statusSummary"] == {"FAILED": 3, "SUCCEEDED": 2}


def test_array_job_that_succeeds_summarises_its_children(world):
    batch = aws_client("batch", world.url)
    account(batch, "wide")
    parent = batch.submit_job(jobName="fan", jobQueue="wide", jobDefinition="d",
                              arrayProperties={"size": 2})["jobId"]
    advance(world, 30)
    detail = batch.describe_jobs(jobs=[parent])["jobs"][0]
    assert detail["status"] == "SUCCEEDED"
    assert detail["arrayProperties"]["statusSummary"] == {"SUCCEEDED": 2}


def test_same_steps_give_the_same_transitions(world):
    def run() -> list[tuple]:
        httpx.post(f"{world.url}/_cancelgate/reset", json={"fixtures": False}).raise_for_status()
        start = httpx.get(f"{world.url}/_cancelgate/clock").json()["now"]
        for n in range(4):
            put(world, f"00000000-0000-4000-8000-{n:012d}", "SUBMITTED", jobQueue="solo", createdAt=n)
        moves = advance(world, 40)
        return [(t["id"], t["from"], t["to"], t["at"] - start) for t in moves]
    first, second = run(), run()
    assert first == second and len(first) > 8


def test_iot_execution_moves_and_versions_grow(tmp_path):
    config = tmp_path / "iot.yaml"
    config.write_text(yaml.safe_dump({"iot": {"durations": {"QUEUED": 2, "IN_PROGRESS": 3},
                                              "outcomes": {"SUCCEEDED": 1.0}}}))
    server = start_server(tmp_path, "--lifecycle", str(config))
    try:
        iot = aws_client("iot", server.url)
        described = lambda: iot.describe_job_execution(thingName="device-1", jobId="firmware-update")["execution"]
        assert (described()["status"], described()["versionNumber"]) == ("QUEUED", 1)
        advance(server, 2)
        assert (described()["status"], described()["versionNumber"]) == ("IN_PROGRESS", 2)
        with pytest.raises(iot.exceptions.InvalidStateTransitionException):
            iot.cancel_job_execution(thingName="device-1", jobId="firmware-update")
        advance(server, 3)
        assert (described()["status"], described()["versionNumber"]) == ("SUCCEEDED", 3)
    finally:
        server.stop()


# fixture documents in a timed status, and ones with no clock to start: finished, or an array
# parent (whose first look also finishes it when every child has finished)
STARTS_CLOCK = [("batch_jobs", "00000000-0000-4000-8000-000000000001"),
                ("batch_jobs", "00000000-0000-4000-8000-000000000005"),
                ("iot_executions", "device-1/firmware-update"), ("vault_jobs", "1002")]
NO_CLOCK = [("batch_jobs", "00000000-0000-4000-8000-000000000009"),
            ("batch_jobs", "00000000-0000-4000-8000-000000000011"),
            ("iot_executions", "device-1/job-succeeded"), ("vault_jobs", "1005")]


def _stored(server, table: str, key: str) -> dict:
    response = httpx.get(f"{server.url}/_cancelgate/state/{table}/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def _clock(server) -> int:
    return httpx.get(f"{server.url}/_cancelgate/clock").json()["now"]


def test_the_fixtures_clocks_start_when_the_server_does(tmp_path):
    """Before any tick or advance, the fixtures' timed documents hold the manual clock's start
    as `_since`: the time the first tick used to give them, written with the fixtures."""
    server = start_server(tmp_path)
    try:
        start = _clock(server)
        assert [_stored(server, *doc).get("_since") for doc in STARTS_CLOCK] == [start] * len(STARTS_CLOCK)
        assert [("_since" in _stored(server, *doc)) for doc in NO_CLOCK] == [False] * len(NO_CLOCK)
        first = "00000000-0000-4000-8000-000000000001"
        assert first not in {t["id"] for t in advance(server, 0.5)}
        assert {(t["from"], t["to"], t["at"]) for t in advance(server, 0.5) if t["id"] == first} == {
            ("SUBMITTED", "PENDING", start + 1000)}   # SUBMITTED for its 1 s since the start
    finally:
        server.stop()


def test_a_reset_starts_the_fixtures_clocks_again(live):
    advance(live, 30)
    httpx.post(f"{live.url}/_cancelgate/reset", json={"fixtures": True}).raise_for_status()
    now = _clock(live)
    assert [_stored(live, *doc).get("_since") for doc in STARTS_CLOCK] == [now] * len(STARTS_CLOCK)
    assert [("_since" in _stored(live, *doc)) for doc in NO_CLOCK] == [False] * len(NO_CLOCK)
    assert _stored(live, *STARTS_CLOCK[0])["status"] == "SUBMITTED"


def test_same_run_twice_gives_the_same_journal(world):
    def run() -> list[dict]:
        httpx.post(f"{world.url}/_cancelgate/reset", json={"fixtures": False}).raise_for_status()
        httpx.delete(f"{world.url}/_cancelgate/requests").raise_for_status()
        start = httpx.get(f"{world.url}/_cancelgate/clock").json()["now"]
        batch = aws_client("batch", world.url)
        for n in range(3):
            put(world, f"00000000-0000-4000-8000-{n:012d}", "SUBMITTED", createdAt=n)
        advance(world, 3)
        batch.cancel_job(jobId="00000000-0000-4000-8000-000000000002", reason="mid-run")
        advance(world, 20)
        batch.describe_jobs(jobs=[f"00000000-0000-4000-8000-{n:012d}" for n in range(3)])
        entries = httpx.get(f"{world.url}/_cancelgate/requests").json()["requests"]
        # durations are wall time; everything else comes from the manual clock and the requests
        return [{**{k: v for k, v in e.items() if k != "durationMs"}, "time": e["time"] - start}
                for e in entries if e["path"] != "/_cancelgate/clock"]
    first, second = run(), run()
    assert first == second and len(first) >= 8
