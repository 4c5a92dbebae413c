"""AWS Batch against the live server with boto3: every row of the cancel/terminate table."""
from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.both_stores

DEFAULT_QUEUE = "default"


def new_id() -> str:
    return str(uuid.uuid4())


def put_job(url: str, job_id: str, status: str, **fields) -> dict:
    body = {"jobName": "job", "jobQueue": DEFAULT_QUEUE, "jobDefinition": "report:1",
            "status": status, **fields}
    response = httpx.put(f"{url}/_cancelgate/batch/jobs/{job_id}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def dispatch(url: str, queue: str = DEFAULT_QUEUE) -> httpx.Response:
    return httpx.post(f"{url}/_cancelgate/batch/queues/{queue}/dispatch")


def describe(batch, job_id: str) -> dict:
    jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert len(jobs) == 1
    return jobs[0]


def stop(batch, operation: str, job_id: str, reason: str) -> None:
    answer = getattr(batch, operation)(jobId=job_id, reason=reason)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {}


BOTH = pytest.mark.parametrize("operation", ["cancel_job", "terminate_job"])


def test_submit_cancel_describe(batch):
    submitted = batch.submit_job(jobName="nightly", jobQueue=DEFAULT_QUEUE, jobDefinition="report:1")
    assert describe(batch, submitted["jobId"])["status"] == "SUBMITTED"
    batch.cancel_job(jobId=submitted["jobId"], reason="no longer needed")
    job = describe(batch, submitted["jobId"])
    assert job["status"] == "FAILED"
    assert job["isCancelled"] is True
    assert job["statusReason"] == "no longer needed"
    assert job["stoppedAt"] >= job["createdAt"]
    assert "isTerminated" not in job


@BOTH
@pytest.mark.parametrize("status", ["SUBMITTED", "PENDING"])
def test_not_started_without_dependencies_fails_at_once(live, batch, operation, status):
    job_id = new_id()
    put_job(live.url, job_id, status)
    stop(batch, operation, job_id, "stop it")
    job = describe(batch, job_id)
    assert (job["status"], job["isCancelled"], job["statusReason"]) == ("FAILED", True, "stop it")
    assert "isTerminated" not in job and "stoppedAt" in job


@BOTH
def test_pending_on_dependency_waits_for_it(live, batch, operation):
    dependency, dependent = new_id(), new_id()
    put_job(live.url, dependency, "RUNNING")
    put_job(live.url, dependent, "PENDING", dependsOn=[{"jobId": dependency}])
    stop(batch, operation, dependent, "waiting cancel")
    assert describe(batch, dependent)["status"] == "PENDING"
    assert "isCancelled" not in describe(batch, dependent)
    put_job(live.url, dependency, "SUCCEEDED")
    job = describe(batch, dependent)
    assert (job["status"], job["isCancelled"], job["statusReason"]) == ("FAILED", True, "waiting cancel")


def test_pending_waits_for_every_dependency(live, batch):
    first, second, dependent = new_id(), new_id(), new_id()
    put_job(live.url, first, "RUNNING")
    put_job(live.url, second, "RUNNABLE")
    put_job(live.url, dependent, "PENDING", dependsOn=[{"jobId": first}, {"jobId": second}])
    batch.cancel_job(jobId=dependent, reason="r")
    put_job(live.url, first, "FAILED")
    assert describe(batch, dependent)["status"] == "PENDING"
    put_job(live.url, second, "SUCCEEDED")
    assert describe(batch, dependent)["status"] == "FAILED"


def test_fixture_job_waiting_on_dependency(batch, live):
    waiting = "00000000-0000-4000-8000-000000000004"
    batch.cancel_job(jobId=waiting, reason="fixture cancel")
    assert describe(batch, waiting)["status"] == "PENDING"
    batch.terminate_job(jobId="00000000-0000-4000-8000-000000000003", reason="dependency stopped")
    assert describe(batch, waiting)["isCancelled"] is True


def _array(live, statuses: list[str]) -> str:
    parent = new_id()
    put_job(live.url, parent, "PENDING", arrayProperties={"size": len(statuses)})
    for index, status in enumerate(statuses):
        put_job(live.url, f"{parent}:{index}", status, arrayProperties={"index": index})
    return parent


def test_cancel_array_parent_cancels_children_not_started(live, batch):
    parent = _array(live, ["SUBMITTED", "PENDING", "RUNNABLE", "RUNNING", "SUCCEEDED"])
    batch.cancel_job(jobId=parent, reason="array cancel")
    children = {j["jobId"]: j for j in batch.describe_jobs(jobs=[f"{parent}:{i}" for i in range(5)])["jobs"]}
    assert children[f"{parent}:0"]["status"] == "FAILED" and children[f"{parent}:0"]["isCancelled"]
    assert children[f"{parent}:1"]["status"] == "FAILED" and children[f"{parent}:1"]["isCancelled"]
    assert children[f"{parent}:2"]["status"] == "RUNNABLE"   # cancel recorded, waits for the head
    assert children[f"{parent}:3"]["status"] == "RUNNING"    # CancelJob does not stop running work
    assert children[f"{parent}:4"]["status"] == "SUCCEEDED"
    assert describe(batch, parent)["status"] == "PENDING"
    put_job(live.url, f"{parent}:3", "SUCCEEDED", arrayProperties={"index": 3})
    assert describe(batch, parent)["status"] == "PENDING"
    # the cancelled RUNNABLE child reaches the head of the queue and fails; then the parent does
    while describe(batch, f"{parent}:2")["status"] == "RUNNABLE":
        assert dispatch(live.url).status_code == 200
    assert describe(batch, f"{parent}:2")["isCancelled"] is True
    job = describe(batch, parent)
    assert (job["status"], job["isCancelled"], job["statusReason"]) == ("FAILED", True, "array cancel")
    assert job["arrayProperties"]["statusSummary"] == {"FAILED": 3, "SUCCEEDED": 2}


def test_terminate_array_parent_terminates_running_children(live, batch):
    parent = _array(live, ["RUNNING", "STARTING", "SUBMITTED", "SUCCEEDED"])
    batch.terminate_job(jobId=parent, reason="array terminate")
    children = batch.describe_jobs(jobs=[f"{parent}:{i}" for i in range(4)])["jobs"]
    by_id = {j["jobId"]: j for j in children}
    assert by_id[f"{parent}:0"]["isTerminated"] and by_id[f"{parent}:1"]["isTerminated"]
    assert by_id[f"{parent}:2"]["isCancelled"]
    assert by_id[f"{parent}:3"]["status"] == "SUCCEEDED"
    job = describe(batch, parent)
    assert (job["status"], job["isCancelled"]) == ("FAILED", True)


@BOTH
def test_runnable_keeps_cancel_until_head_of_queue(live, batch, operation):
    queue = "q" + uuid.uuid4().hex[:8]
    ahead, cancelled = new_id(), new_id()
    put_job(live.url, ahead, "RUNNABLE", jobQueue=queue, schedulingPriority=9, createdAt=2000)
    put_job(live.url, cancelled, "RUNNABLE", jobQueue=queue, schedulingPriority=1, createdAt=1000)
    stop(batch, operation, cancelled, "held cancel")
    assert describe(batch, cancelled)["status"] == "RUNNABLE"
    first = dispatch(live.url, queue).json()
    assert first == {"jobId": ahead, "status": "STARTING"}      # priority beats age
    assert describe(batch, cancelled)["status"] == "RUNNABLE"
    second = dispatch(live.url, queue).json()
    assert second == {"jobId": cancelled, "status": "FAILED"}
    job = describe(batch, cancelled)
    assert job["isCancelled"] is True and job["statusReason"] == "held cancel"
    assert "startedAt" not in job                                # never STARTING
    assert dispatch(live.url, queue).status_code == 404


def test_dispatch_same_priority_oldest_first(live):
    queue = "q" + uuid.uuid4().hex[:8]
    younger, older = new_id(), new_id()
    put_job(live.url, younger, "RUNNABLE", jobQueue=queue, createdAt=5000)
    put_job(live.url, older, "RUNNABLE", jobQueue=queue, createdAt=4000)
    assert dispatch(live.url, queue).json()["jobId"] == older


@pytest.mark.parametrize("status", ["STARTING", "RUNNING"])
def test_cancel_leaves_started_jobs_alone(live, batch, status):
    job_id = new_id()
    put_job(live.url, job_id, status, startedAt=1000)
    before = describe(batch, job_id)
    stop(batch, "cancel_job", job_id, "too late")
    assert describe(batch, job_id) == before


@pytest.mark.parametrize("status", ["STARTING", "RUNNING"])
def test_terminate_fails_started_jobs(live, batch, status):
    job_id = new_id()
    put_job(live.url, job_id, status, startedAt=1000)
    stop(batch, "terminate_job", job_id, "terminated by test")
    job = describe(batch, job_id)
    assert (job["status"], job["isTerminated"], job["statusReason"]) == ("FAILED", True, "terminated by test")
    assert "isCancelled" not in job and job["stoppedAt"] > 1000


@BOTH
@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_finished_jobs_never_change(live, batch, operation, status):
    job_id = new_id()
    put_job(live.url, job_id, status, statusReason="done before", stoppedAt=1000)
    before = describe(batch, job_id)
    stop(batch, operation, job_id, "late")
    assert describe(batch, job_id) == before


@BOTH
def test_unknown_well_formed_id_is_a_quiet_success(batch, operation, http):
    before = http.get("/_cancelgate/health").json()
    stop(batch, operation, new_id(), "nobody")
    assert http.get("/_cancelgate/health").json() == before


@BOTH
@pytest.mark.parametrize("job_id,reason", [
    ("", "ok"),
    ("00000000-0000-4000-8000-000000000001", ""),
    ("00000000-0000-4000-8000-000000000001", "x" * 1025),
    ("00000000-0000-4000-8000-000000000001", "bell\x07"),
    ("00000000-0000-4000-8000-000000000001", "trailing newline\n"),
])
def test_bad_id_or_reason_is_client_exception(batch, operation, job_id, reason):
    with pytest.raises(batch.exceptions.ClientException) as raised:
        getattr(batch, operation)(jobId=job_id, reason=reason)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert describe(batch, "00000000-0000-4000-8000-000000000001")["status"] == "SUBMITTED"


@BOTH
@pytest.mark.parametrize("job_id", ["nonexisting_job", "00000000-0000-4000-8000-000000000001\n"])
def test_any_non_empty_id_of_no_job_is_200(batch, http, operation, job_id):
    # AWS answers 200 {} for any job id it does not know, well-formed or not (aws/aws-cli#2551);
    # an id with a trailing newline is such an id, not fixture job 1
    before = http.get("/_cancelgate/health").json()
    stop(batch, operation, job_id, "ok")
    assert http.get("/_cancelgate/health").json() == before
    assert describe(batch, "00000000-0000-4000-8000-000000000001")["status"] == "SUBMITTED"


def test_reason_of_1024_characters_is_accepted(batch):
    batch.cancel_job(jobId="00000000-0000-4000-8000-000000000001", reason="r" * 1024)
    assert describe(batch, "00000000-0000-4000-8000-000000000001")["statusReason"] == "r" * 1024


@BOTH
def test_missing_reason_is_client_exception(http, operation):
    path = "/v1/canceljob" if operation == "cancel_job" else "/v1/terminatejob"
    response = http.post(path, json={"jobId": "00000000-0000-4000-8000-000000000001"})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ClientException"
    assert "reason" in response.json()["message"]


@pytest.mark.parametrize("operation,terminate", [("cancel_jobs", False), ("terminate_jobs", True)])
def test_bulk_answers_each_id(live, batch, operation, terminate):
    submitted, running, unknown = new_id(), new_id(), new_id()
    put_job(live.url, submitted, "SUBMITTED")
    put_job(live.url, running, "RUNNING")
    answer = getattr(batch, operation)(jobs=[submitted, "bad id", running, unknown], reason="bulk")
    assert answer["successful"] == [submitted, running, unknown]
    assert [(e["job"], e["code"]) for e in answer["errors"]] == [("bad id", "ValidationException")]
    assert describe(batch, submitted)["isCancelled"] is True
    assert describe(batch, running)["status"] == ("FAILED" if terminate else "RUNNING")


def test_bulk_refuses_more_than_50_ids(batch):
    with pytest.raises(batch.exceptions.ClientException):
        batch.cancel_jobs(jobs=[new_id() for _ in range(51)], reason="too many")


def test_describe_refuses_more_than_100_ids(batch):
    assert batch.describe_jobs(jobs=[new_id() for _ in range(100)])["jobs"] == []
    with pytest.raises(batch.exceptions.ClientException):
        batch.describe_jobs(jobs=[new_id() for _ in range(101)])


def test_submit_array_job_creates_children(batch):
    parent = batch.submit_job(jobName="fan-out", jobQueue=DEFAULT_QUEUE, jobDefinition="report:1",
                              arrayProperties={"size": 3})["jobId"]
    children = batch.describe_jobs(jobs=[f"{parent}:{i}" for i in range(3)])["jobs"]
    assert [c["arrayProperties"]["index"] for c in children] == [0, 1, 2]
    assert describe(batch, parent)["arrayProperties"] == {"size": 3, "statusSummary": {"SUBMITTED": 3}}
    batch.cancel_job(jobId=parent, reason="fan-in")
    assert describe(batch, parent)["arrayProperties"]["statusSummary"] == {"FAILED": 3}
    assert describe(batch, parent)["status"] == "FAILED"


def test_submit_with_dependency_and_priority(batch, live):
    first = batch.submit_job(jobName="a", jobQueue=DEFAULT_QUEUE, jobDefinition="report")["jobId"]
    second = batch.submit_job(jobName="b", jobQueue=DEFAULT_QUEUE, jobDefinition="report",
                              dependsOn=[{"jobId": first, "type": "SEQUENTIAL"}],
                              schedulingPriorityOverride=7)["jobId"]
    job = describe(batch, second)
    assert job["dependsOn"] == [{"jobId": first, "type": "SEQUENTIAL"}]
    assert job["schedulingPriority"] == 7
    put_job(live.url, second, "PENDING", dependsOn=[{"jobId": first}])
    batch.cancel_job(jobId=second, reason="after first")
    assert describe(batch, second)["status"] == "PENDING"
    batch.cancel_job(jobId=first, reason="first")
    assert describe(batch, second)["status"] == "FAILED"


def test_submit_with_unknown_dependency_is_refused(batch, http):
    before = http.get("/_cancelgate/health").json()
    with pytest.raises(batch.exceptions.ClientException):
        batch.submit_job(jobName="a", jobQueue=DEFAULT_QUEUE, jobDefinition="report",
                         dependsOn=[{"jobId": new_id()}])
    assert http.get("/_cancelgate/health").json() == before


def test_list_jobs_by_status_pages(batch):
    queue = "q" + uuid.uuid4().hex[:8]
    batch.create_job_queue(jobQueueName=queue, priority=1)
    ids = {batch.submit_job(jobName=f"j{i}", jobQueue=queue, jobDefinition="report")["jobId"] for i in range(5)}
    pages = list(batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, jobStatus="SUBMITTED", PaginationConfig={"PageSize": 2}))
    assert [len(p["jobSummaryList"]) for p in pages] == [2, 2, 1]
    assert {s["jobId"] for p in pages for s in p["jobSummaryList"]} == ids
    assert batch.list_jobs(jobQueue=queue)["jobSummaryList"] == []   # default status: RUNNING


def test_list_jobs_of_array_and_filters(batch):
    parent = "00000000-0000-4000-8000-000000000011"
    listed = batch.list_jobs(arrayJobId=parent, jobStatus="RUNNING")["jobSummaryList"]
    assert [s["jobId"] for s in listed] == [f"{parent}:1"]
    named = batch.list_jobs(jobQueue=DEFAULT_QUEUE, filters=[{"name": "JOB_NAME", "values": ["runnable-*"]}])
    assert {s["jobName"] for s in named["jobSummaryList"]} == {"runnable-low-priority", "runnable-high-priority"}


def test_list_jobs_needs_exactly_one_source(batch):
    with pytest.raises(batch.exceptions.ClientException):
        batch.list_jobs(jobQueue=DEFAULT_QUEUE, arrayJobId="00000000-0000-4000-8000-000000000011")
    with pytest.raises(batch.exceptions.ClientException):
        batch.list_jobs()


def test_fixtures_hold_every_status(batch):
    listed = set()
    for status in ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]:
        if batch.list_jobs(jobQueue=DEFAULT_QUEUE, jobStatus=status)["jobSummaryList"]:
            listed.add(status)
    assert len(listed) == 7


@pytest.mark.parametrize("token", ["offset:²", "offset:١", "garbage!", "b2Zmc2V0Ong="])
def test_a_crafted_paging_token_is_a_client_exception(batch, token):
    import base64
    crafted = token if token.isascii() else base64.urlsafe_b64encode(token.encode()).decode()
    with pytest.raises(batch.exceptions.ClientException):
        batch.list_jobs(jobQueue="default", nextToken=crafted)
