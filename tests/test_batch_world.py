"""AWS Batch as orchestration code sees it, with boto3 against the live server: compute
environments, job queues, job definitions, SubmitJob by ARN, JobDetail with container and
attempts, regions, tags, and the operations of the model that are not emulated."""
from __future__ import annotations

import uuid

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import aws_client, start_server

ACCOUNT = "123456789012"
ARN = f"arn:aws:batch:us-east-1:{ACCOUNT}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def advance(url: str, seconds: float) -> list[dict]:
    response = httpx.post(f"{url}/_cancelgate/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text
    return response.json()["transitions"]


def put_job(url: str, job_id: str, status: str, **fields) -> None:
    body = {"jobName": "job", "jobQueue": "default", "jobDefinition": "report:1", "status": status, **fields}
    httpx.put(f"{url}/_cancelgate/batch/jobs/{job_id}", json=body).raise_for_status()


def client_error(batch, call, *args, **kwargs) -> str:
    """The message of the ClientException (HTTP 400) `call` raises."""
    with pytest.raises(batch.exceptions.ClientException) as raised:
        call(*args, **kwargs)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return raised.value.response["Error"]["Message"]


def environment(batch, name: str, max_vcpus: int = 4, kind: str = "EC2") -> str:
    return batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED",
        computeResources={"type": kind, "maxvCpus": max_vcpus, "subnets": ["subnet-1"]})["computeEnvironmentArn"]


def job(batch, job_id: str) -> dict:
    found = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert len(found) == 1
    return found[0]


def world(batch, live, max_vcpus: int = 4) -> tuple[str, str, str]:
    """A fresh environment (VALID), queue and definition, as a Batch test set-up makes them:
    their ARNs."""
    env = environment(batch, unique("env"), max_vcpus)
    queue = batch.create_job_queue(jobQueueName=unique("queue"), priority=5,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=unique("def"), type="container", parameters={"day": "monday", "size": "s"},
        containerProperties={"image": "busybox", "command": ["echo", "Ref::day", "Ref::size"],
                             "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "256"}],
                             "logConfiguration": {"logDriver": "awslogs"}},
        retryStrategy={"attempts": 1}, timeout={"attemptDurationSeconds": 600},
        platformCapabilities=["EC2"], tags={"team": "data"})["jobDefinitionArn"]
    advance(live.url, 5)   # CREATING -> VALID
    return env, queue, definition


# --- fixtures: an account to look at ---------------------------------------------------------

def test_fixture_account_has_environments_queues_and_definition_revisions(batch):
    envs = {e["computeEnvironmentName"]: e for e in batch.describe_compute_environments()["computeEnvironments"]}
    assert envs["ec2-managed"]["type"] == "MANAGED" and envs["ec2-managed"]["computeResources"]["type"] == "EC2"
    assert envs["fargate"]["computeResources"]["type"] == "FARGATE"
    assert {e["status"] for e in envs.values()} == {"VALID"}
    queues = {q["jobQueueName"]: q for q in batch.describe_job_queues()["jobQueues"]}
    assert queues["default"]["priority"] == 1 and "gpu" in queues
    order = queues["default"]["computeEnvironmentOrder"]
    assert order[0]["computeEnvironment"] == f"{ARN}:compute-environment/ec2-managed"
    revisions = batch.describe_job_definitions(jobDefinitionName="report")["jobDefinitions"]
    assert [(d["revision"], d["status"]) for d in revisions] == [(1, "ACTIVE"), (2, "ACTIVE")]


# --- compute environments ---------------------------------------------------------------------

def test_compute_environment_lives_creating_valid_updating_deleting_deleted(batch, live):
    name = unique("spot")
    arn = environment(batch, name, kind="SPOT")
    assert arn == f"{ARN}:compute-environment/{name}"
    described = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]
    shown = (described["status"], described["state"], described["computeResources"]["maxvCpus"])
    assert shown == ("CREATING", "ENABLED", 4)
    advance(live.url, 5)
    assert batch.describe_compute_environments(computeEnvironments=[arn])["computeEnvironments"][0]["status"] == "VALID"
    batch.update_compute_environment(computeEnvironment=arn, state="DISABLED", computeResources={"maxvCpus": 8})
    described = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]
    shown = (described["status"], described["state"], described["computeResources"]["maxvCpus"])
    assert shown == ("UPDATING", "DISABLED", 8)
    advance(live.url, 5)
    batch.delete_compute_environment(computeEnvironment=name)
    status = lambda: batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]["status"]
    assert status() == "DELETING"
    advance(live.url, 5)
    assert status() == "DELETED"
    listed = {e["computeEnvironmentName"] for e in batch.describe_compute_environments()["computeEnvironments"]}
    assert name not in listed
    environment(batch, name)   # a DELETED environment's name may be used again


def test_fargate_and_unmanaged_environments(batch):
    environment(batch, unique("fg"), kind="FARGATE_SPOT")
    name = unique("own")
    batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", unmanagedvCpus=16)
    described = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]
    assert described["type"] == "UNMANAGED" and "computeResources" not in described


def test_compute_environment_errors(batch, live):
    name = unique("env")
    environment(batch, name)
    assert client_error(batch, batch.create_compute_environment, computeEnvironmentName=name, type="MANAGED",
                        computeResources={"type": "EC2", "maxvCpus": 1}) == "Object already exists"
    assert "computeResources" in client_error(batch, batch.create_compute_environment,
                                              computeEnvironmentName=unique("x"), type="MANAGED")
    advance(live.url, 5)
    assert "ENABLED" in client_error(batch, batch.delete_compute_environment, computeEnvironment=name)
    batch.create_job_queue(jobQueueName=unique("q"), priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
    batch.update_compute_environment(computeEnvironment=name, state="DISABLED")
    assert "JobQueue relationship" in client_error(batch, batch.delete_compute_environment, computeEnvironment=name)
    assert "does not exist" in client_error(batch, batch.update_compute_environment,
                                            computeEnvironment=unique("nothing"), state="DISABLED")


# --- job queues -------------------------------------------------------------------------------

def test_job_queue_create_describe_update(batch, live):
    env = environment(batch, unique("env"))
    name = unique("q")
    limits = [{"reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "state": "RUNNABLE",
               "maxTimeSeconds": 600, "action": "CANCEL"}]
    policy = f"{ARN}:scheduling-policy/fair"
    arn = batch.create_job_queue(jobQueueName=name, priority=3, schedulingPolicyArn=policy,
                                 jobStateTimeLimitActions=limits, tags={"k": "v"},
                                 computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    assert arn == f"{ARN}:job-queue/{name}"
    queue = batch.describe_job_queues(jobQueues=[arn])["jobQueues"][0]
    assert (queue["status"], queue["state"], queue["priority"]) == ("CREATING", "ENABLED", 3)
    assert queue["schedulingPolicyArn"] == policy and queue["jobStateTimeLimitActions"] == limits
    advance(live.url, 5)
    batch.update_job_queue(jobQueue=name, priority=9)
    advance(live.url, 5)
    queue = batch.describe_job_queues(jobQueues=[name])["jobQueues"][0]
    assert (queue["status"], queue["priority"]) == ("VALID", 9)
    assert client_error(batch, batch.create_job_queue, jobQueueName=name, priority=1) == "Object already exists"
    assert "does not exist" in client_error(batch, batch.create_job_queue, jobQueueName=unique("q"), priority=1,
                                            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "nope"}])
    pages = list(batch.get_paginator("describe_job_queues").paginate(PaginationConfig={"PageSize": 1}))
    assert len(pages) >= 3 and all(len(p["jobQueues"]) == 1 for p in pages)


def test_time_limit_action_cancels_a_runnable_head_that_waits_too_long(batch, live):
    env, _, definition = world(batch, live)
    batch.update_compute_environment(computeEnvironment=env, state="DISABLED")   # no room at all
    queue = unique("q")
    reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    batch.create_job_queue(jobQueueName=queue, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
                           jobStateTimeLimitActions=[{"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": 600,
                                                      "action": "CANCEL"}])
    stuck = batch.submit_job(jobName="stuck", jobQueue=queue, jobDefinition=definition)["jobId"]
    advance(live.url, 5)
    runnable_since = job(batch, stuck)["createdAt"] + 2000     # SUBMITTED 1 s, PENDING 1 s
    advance(live.url, 590)
    assert job(batch, stuck)["status"] == "RUNNABLE"
    advance(live.url, 10)
    ended = job(batch, stuck)
    assert (ended["status"], ended["isCancelled"], ended["statusReason"]) == ("FAILED", True, reason)
    assert ended["stoppedAt"] == runnable_since + 600_000 and ended["attempts"] == []


def test_disabled_queue_refuses_submit(batch, live):
    _, queue, definition = world(batch, live)
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    assert "DISABLED" in client_error(batch, batch.submit_job, jobName="j", jobQueue=queue, jobDefinition=definition)


def test_delete_queue_needs_disabled_then_ends_every_job(batch, live):
    _, queue_arn, _ = world(batch, live)
    queue = queue_arn.rsplit("/", 1)[1]
    waiting, running, done = (str(uuid.uuid4()) for _ in range(3))
    put_job(live.url, waiting, "RUNNABLE", jobQueue=queue)
    put_job(live.url, running, "RUNNING", jobQueue=queue, startedAt=1000)
    put_job(live.url, done, "SUCCEEDED", jobQueue=queue, stoppedAt=2000)
    assert "ENABLED" in client_error(batch, batch.delete_job_queue, jobQueue=queue)
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    batch.delete_job_queue(jobQueue=queue_arn)
    cancelled, terminated = job(batch, waiting), job(batch, running)
    assert (cancelled["status"], cancelled["isCancelled"], cancelled["statusReason"]) == (
        "FAILED", True, "Job queue deleted")
    assert cancelled["attempts"] == []
    assert (terminated["status"], terminated["isTerminated"]) == ("FAILED", True)
    assert terminated["attempts"][-1]["container"]["exitCode"] == 143
    assert job(batch, done)["status"] == "SUCCEEDED"
    assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["status"] == "DELETING"
    advance(live.url, 5)
    assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["status"] == "DELETED"
    assert "not found" in client_error(batch, batch.submit_job, jobName="j", jobQueue=queue, jobDefinition="report")


def test_job_queue_snapshot_is_the_dispatch_order(batch, live):
    queue = unique("q")
    batch.create_job_queue(jobQueueName=queue, priority=1)   # no environment, nothing advances
    low_old, high_new, high_old = (str(uuid.uuid4()) for _ in range(3))
    put_job(live.url, low_old, "RUNNABLE", jobQueue=queue, schedulingPriority=1, createdAt=1000)
    put_job(live.url, high_new, "RUNNABLE", jobQueue=queue, schedulingPriority=9, createdAt=3000)
    put_job(live.url, high_old, "RUNNABLE", jobQueue=queue, schedulingPriority=9, createdAt=2000)
    front = batch.get_job_queue_snapshot(jobQueue=queue)["frontOfQueue"]
    assert [j["jobArn"].rsplit("/", 1)[1] for j in front["jobs"]] == [high_old, high_new, low_old]
    assert "not found" in client_error(batch, batch.get_job_queue_snapshot, jobQueue=unique("none"))


# --- job definitions --------------------------------------------------------------------------

def test_job_definition_revisions_describe_and_deregister(batch):
    name = unique("def")
    first = batch.register_job_definition(jobDefinitionName=name, type="container",
                                          containerProperties={"image": "busybox:1"})
    second = batch.register_job_definition(jobDefinitionName=name, type="container",
                                           containerProperties={"image": "busybox:2"},
                                           retryStrategy={"attempts": 3}, parameters={"p": "v"})
    assert (first["revision"], second["revision"]) == (1, 2)
    assert second["jobDefinitionArn"] == f"{ARN}:job-definition/{name}:2"
    by_name = batch.describe_job_definitions(jobDefinitions=[name])["jobDefinitions"]
    assert [d["revision"] for d in by_name] == [1, 2]
    by_arn = batch.describe_job_definitions(jobDefinitions=[second["jobDefinitionArn"]])["jobDefinitions"]
    assert by_arn[0]["containerProperties"]["image"] == "busybox:2" and by_arn[0]["retryStrategy"] == {"attempts": 3}
    page = batch.describe_job_definitions(jobDefinitionName=name, maxResults=1)
    assert len(page["jobDefinitions"]) == 1 and "nextToken" in page
    rest = batch.describe_job_definitions(jobDefinitionName=name, maxResults=1, nextToken=page["nextToken"])
    assert rest["jobDefinitions"][0]["revision"] == 2
    batch.deregister_job_definition(jobDefinition=f"{name}:2")
    active = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    assert [d["revision"] for d in active] == [1]
    assert batch.describe_job_definitions(jobDefinitions=[f"{name}:2"])["jobDefinitions"][0]["status"] == "INACTIVE"
    submitted = batch.submit_job(jobName="j", jobQueue="default", jobDefinition=name)   # latest ACTIVE: 1
    assert job(batch, submitted["jobId"])["jobDefinition"] == f"{ARN}:job-definition/{name}:1"
    assert "INACTIVE" in client_error(batch, batch.submit_job, jobName="j", jobQueue="default",
                                      jobDefinition=f"{name}:2")
    batch.deregister_job_definition(jobDefinition=first["jobDefinitionArn"])
    assert client_error(batch, batch.submit_job, jobName="j", jobQueue="default", jobDefinition=name) == \
        f"JobDefinition name {name} does not exist or is not in ACTIVE status"
    assert job(batch, submitted["jobId"])["status"] == "SUBMITTED"   # existing jobs unaffected
    assert "revision" in client_error(batch, batch.deregister_job_definition, jobDefinition=name)
    assert "container" in client_error(batch, batch.register_job_definition, jobDefinitionName=name, type="container")


# --- SubmitJob and JobDetail ------------------------------------------------------------------

def test_submit_by_arns_with_every_override_and_unbounded_strings(batch, live):
    _, queue, definition = world(batch, live)
    command = ["run", "x" * 5000]
    submitted = batch.submit_job(
        jobName="full", jobQueue=queue, jobDefinition=definition, parameters={"size": "xl"},
        containerOverrides={"environment": [{"name": "B", "value": "line one\nline two"}, {"name": "C", "value": "3"}]},
        nodeOverrides={"numNodes": 1}, ecsPropertiesOverride={"taskProperties": []},
        eksPropertiesOverride={"podProperties": {"containers": []}},
        consumableResourcePropertiesOverride={"consumableResourceList": []},
        tags={"run": "1"}, propagateTags=True, shareIdentifier="blue", schedulingPriorityOverride=5)
    detail = job(batch, submitted["jobId"])
    assert detail["jobQueue"] == queue and detail["jobDefinition"] == definition
    assert detail["parameters"] == {"day": "monday", "size": "xl"}
    assert detail["container"]["command"] == ["echo", "monday", "xl"]
    assert detail["container"]["environment"] == [{"name": "A", "value": "1"},
                                                  {"name": "B", "value": "line one\nline two"},
                                                  {"name": "C", "value": "3"}]
    assert detail["retryStrategy"] == {"attempts": 1} and detail["timeout"] == {"attemptDurationSeconds": 600}
    assert detail["platformCapabilities"] == ["EC2"] and detail["tags"] == {"run": "1"}
    assert "containerOverrides" not in detail and "statusReason" not in detail
    long_one = batch.submit_job(jobName="long", jobQueue=queue, jobDefinition=definition,
                                containerOverrides={"command": command})
    assert job(batch, long_one["jobId"])["container"]["command"] == command


def test_submit_to_unknown_queue_or_definition_is_client_exception(batch, http):
    before = http.get("/_cancelgate/health").json()
    assert client_error(batch, batch.submit_job, jobName="j", jobQueue="nowhere", jobDefinition="report") == \
        "JobQueue nowhere not found."
    assert client_error(batch, batch.submit_job, jobName="j", jobQueue="default", jobDefinition="nothing") == \
        "JobDefinition name nothing does not exist or is not in ACTIVE status"
    missing = f"{ARN}:job-definition/report:9"
    assert client_error(batch, batch.submit_job, jobName="j", jobQueue="default", jobDefinition=missing) == \
        f"JobDefinition {missing} not found."
    assert http.get("/_cancelgate/health").json() == before


def test_job_detail_has_container_task_log_stream_and_attempts(batch, live):
    _, queue, definition = world(batch, live)
    name = definition.rsplit("/", 1)[1].split(":")[0]
    ok = batch.submit_job(jobName="ok", jobQueue=queue, jobDefinition=definition)["jobId"]
    killed = batch.submit_job(jobName="killed", jobQueue=queue, jobDefinition=definition)["jobId"]
    never = batch.submit_job(jobName="never", jobQueue=queue, jobDefinition=definition)["jobId"]
    batch.cancel_job(jobId=never, reason="not wanted")
    advance(live.url, 5)
    running = job(batch, ok)
    assert running["status"] == "RUNNING" and running["attempts"] == []
    task = running["container"]["taskArn"].rsplit("/", 1)[1]
    assert running["container"]["logStreamName"] == f"{name}/default/{task}"
    assert running["container"]["logConfiguration"] == {"logDriver": "awslogs"}
    batch.terminate_job(jobId=killed, reason="operator says stop")
    advance(live.url, 10)
    done = job(batch, ok)
    assert done["status"] == "SUCCEEDED" and "statusReason" not in done
    assert [a["container"]["exitCode"] for a in done["attempts"]] == [0]
    attempt = done["attempts"][0]
    assert attempt["startedAt"] == done["startedAt"] and attempt["stoppedAt"] == done["stoppedAt"]
    assert done["container"]["exitCode"] == 0 and done["container"]["logStreamName"] == f"{name}/default/{task}"
    stopped = job(batch, killed)
    assert (stopped["status"], stopped["isTerminated"], stopped["statusReason"]) == (
        "FAILED", True, "operator says stop")
    assert stopped["attempts"][-1]["container"]["exitCode"] == 143 and stopped["container"]["exitCode"] == 143
    assert stopped["attempts"][-1]["statusReason"] == "operator says stop"
    cancelled = job(batch, never)
    assert cancelled["attempts"] == [] and "exitCode" not in cancelled["container"]


def test_capacity_comes_from_the_environments_max_vcpus(batch, live):
    env, queue, definition = world(batch, live, max_vcpus=1)
    first = batch.submit_job(jobName="a", jobQueue=queue, jobDefinition=definition)["jobId"]
    advance(live.url, 0.5)   # the second is younger, so the first heads the queue
    second = batch.submit_job(jobName="b", jobQueue=queue, jobDefinition=definition)["jobId"]
    advance(live.url, 5)
    assert (job(batch, first)["status"], job(batch, second)["status"]) == ("RUNNING", "RUNNABLE")
    batch.update_compute_environment(computeEnvironment=env, state="DISABLED")
    advance(live.url, 30)   # the first finishes; a DISABLED environment offers nothing
    assert (job(batch, first)["status"], job(batch, second)["status"]) == ("SUCCEEDED", "RUNNABLE")
    batch.cancel_job(jobId=second, reason="no capacity")
    advance(live.url, 30)
    assert job(batch, second)["status"] == "RUNNABLE"   # a recorded cancel waits for the head's turn
    batch.update_compute_environment(computeEnvironment=env, state="ENABLED")
    advance(live.url, 5)
    final = job(batch, second)
    assert (final["status"], final["isCancelled"], final["attempts"]) == ("FAILED", True, [])


# --- regions, accounts, ids of no job ------------------------------------------------------------

def test_each_region_is_its_own_namespace(batch, live):
    europe = boto3.client("batch", endpoint_url=live.url, region_name="eu-west-1",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                          config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    assert europe.describe_job_queues()["jobQueues"] == []
    assert europe.describe_jobs(jobs=["00000000-0000-4000-8000-000000000001"])["jobs"] == []
    assert "not found" in client_error(europe, europe.submit_job, jobName="j", jobQueue="default",
                                       jobDefinition="report")
    queue = europe.create_job_queue(jobQueueName="default", priority=1)["jobQueueArn"]
    assert queue == f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-queue/default"
    europe.register_job_definition(jobDefinitionName="report", type="container", containerProperties={"image": "b"})
    submitted = europe.submit_job(jobName="eu", jobQueue="default", jobDefinition="report")
    assert submitted["jobArn"].startswith(f"arn:aws:batch:eu-west-1:{ACCOUNT}:job/")
    detail = job(europe, submitted["jobId"])
    assert detail["jobDefinition"] == f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-definition/report:1"
    assert batch.describe_jobs(jobs=[submitted["jobId"]])["jobs"] == []      # not in us-east-1
    batch.cancel_job(jobId=submitted["jobId"], reason="wrong region")          # 200: no such job here
    assert job(europe, submitted["jobId"])["status"] == "SUBMITTED"
    revisions = batch.describe_job_definitions(jobDefinitionName="report")["jobDefinitions"]
    assert [d["revision"] for d in revisions] == [1, 2]


# --- tags and what is not emulated ---------------------------------------------------------------

def test_tags_on_queues_environments_definitions_and_jobs(batch):
    submitted = batch.submit_job(jobName="t", jobQueue="default", jobDefinition="report", tags={"a": "1"})
    for arn in (f"{ARN}:job-queue/gpu", f"{ARN}:compute-environment/fargate", f"{ARN}:job-definition/report:1",
                submitted["jobArn"]):
        batch.tag_resource(resourceArn=arn, tags={"owner": "me", "cost": "low"})
        assert {"owner": "me", "cost": "low"}.items() <= batch.list_tags_for_resource(resourceArn=arn)["tags"].items()
        batch.untag_resource(resourceArn=arn, tagKeys=["cost", "absent"])
        tags = batch.list_tags_for_resource(resourceArn=arn)["tags"]
        assert "cost" not in tags and tags["owner"] == "me"
    assert batch.list_tags_for_resource(resourceArn=submitted["jobArn"])["tags"] == {"a": "1", "owner": "me"}
    assert "not found" in client_error(batch, batch.list_tags_for_resource, resourceArn=f"{ARN}:job-queue/none")


@pytest.mark.parametrize("call,kwargs", [
    ("create_scheduling_policy", {"name": "fair"}),
    ("describe_service_environments", {}),
    ("submit_service_job", {"jobName": "j", "jobQueue": "default", "serviceJobType": "SAGEMAKER_TRAINING",
                            "serviceRequestPayload": "{}"}),
    ("list_consumable_resources", {}),
])
def test_operations_not_emulated_say_so(batch, call, kwargs):
    message = client_error(batch, getattr(batch, call), **kwargs)
    assert "not emulated" in message and "Not Found" not in message


# --- attempts: exit codes, retries, timeouts -----------------------------------------------------

def exit_job(url: str, job_id: str, code: int, reason: str | None = None) -> httpx.Response:
    body = {"exitCode": code, **({"reason": reason} if reason else {})}
    return httpx.post(f"{url}/_cancelgate/batch/jobs/{job_id}/exit", json=body)


def test_exit_codes_retries_and_evaluate_on_exit(batch, live):
    _, queue, _ = world(batch, live)
    definition = batch.register_job_definition(
        jobDefinitionName=unique("retry"), type="container", containerProperties={"image": "busybox"},
        retryStrategy={"attempts": 3, "evaluateOnExit": [
            {"onReason": "OutOfMemory*", "action": "EXIT"}, {"onExitCode": "1*", "action": "RETRY"},
            {"onExitCode": "*", "action": "EXIT"}]})["jobDefinitionArn"]
    flaky, broken, oom = (batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]
                          for name in ("flaky", "broken", "oom"))
    advance(live.url, 5)
    assert exit_job(live.url, flaky, 10).json()["status"] == "RUNNABLE"     # "1*" says RETRY
    assert job(batch, flaky)["attempts"][0]["container"]["exitCode"] == 10
    advance(live.url, 5)
    assert job(batch, flaky)["status"] == "RUNNING"
    assert exit_job(live.url, flaky, 0).json()["status"] == "SUCCEEDED"
    done = job(batch, flaky)
    assert [a["container"]["exitCode"] for a in done["attempts"]] == [10, 0]
    assert done["attempts"][0]["container"]["taskArn"] != done["attempts"][1]["container"]["taskArn"]
    assert exit_job(live.url, broken, 2).json()["status"] == "FAILED"       # "*" says EXIT
    assert job(batch, broken)["statusReason"] == "Essential container in task exited"
    assert exit_job(live.url, oom, 10, reason="OutOfMemoryError: Container killed").json()["status"] == "FAILED"
    failed = job(batch, oom)
    assert failed["container"]["reason"].startswith("OutOfMemoryError") and len(failed["attempts"]) == 1
    assert exit_job(live.url, oom, 0).status_code == 409                       # not RUNNING any more
    assert exit_job(live.url, str(uuid.uuid4()), 0).status_code == 404


def test_attempts_run_out_and_a_timeout_fails_the_attempt(tmp_path):
    config = tmp_path / "slow.yaml"
    config.write_text("batch:\n  durations:\n    RUNNING: 100000\n")
    server = start_server(tmp_path, "--lifecycle", str(config))
    try:
        batch = aws_client("batch", server.url)
        _, queue, _ = world(batch, server)
        definition = batch.register_job_definition(
            jobDefinitionName=unique("slow"), type="container", containerProperties={"image": "busybox"},
            retryStrategy={"attempts": 2}, timeout={"attemptDurationSeconds": 60})["jobDefinitionArn"]
        slow = batch.submit_job(jobName="slow", jobQueue=queue, jobDefinition=definition)["jobId"]
        advance(server.url, 5 + 60)    # the first attempt times out and is retried
        advance(server.url, 5 + 60)    # so does the second, the last
        ended = job(batch, slow)
        assert (ended["status"], ended["statusReason"]) == ("FAILED", "Job attempt duration exceeded timeout")
        assert [a["stoppedAt"] - a["startedAt"] for a in ended["attempts"]] == [60_000, 60_000]
        assert {a["statusReason"] for a in ended["attempts"]} == {"Job attempt duration exceeded timeout"}
    finally:
        server.stop()


def test_account_id_is_configurable(tmp_path):
    server = start_server(tmp_path, "--aws-account", "210987654321", "--no-fixtures")
    try:
        batch = aws_client("batch", server.url)
        queue = batch.create_job_queue(jobQueueName="q", priority=1)["jobQueueArn"]
        assert queue == "arn:aws:batch:us-east-1:210987654321:job-queue/q"
        batch.register_job_definition(jobDefinitionName="d", type="container", containerProperties={"image": "b"})
        submitted = batch.submit_job(jobName="j", jobQueue=queue, jobDefinition="d")
        assert submitted["jobArn"].startswith("arn:aws:batch:us-east-1:210987654321:job/")
        assert job(batch, submitted["jobId"])["jobDefinition"] == (
            "arn:aws:batch:us-east-1:210987654321:job-definition/d:1")
        # an ARN of another account names nothing here
        assert "not found" in client_error(batch, batch.submit_job, jobName="j", jobDefinition="d",
                                           jobQueue="arn:aws:batch:us-east-1:123456789012:job-queue/q")
    finally:
        server.stop()
