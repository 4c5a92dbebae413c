"""One array-job story told through boto3 and the control plane, with every view of the
children recorded (ids and times made relative), so that the views before and after a change
of how children are stored can be compared (tests/data/array_child_views.json)."""
from __future__ import annotations

import re

import httpx

TASK = re.compile(r"[0-9a-f]{32}")   # ECS task ids: a hash of the (random) job id

CONTAINER = {"image": "public.ecr.aws/docker/library/busybox:latest",
             "command": ["echo", "report for", "Ref::day"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
             "environment": [{"name": "REPORT_FORMAT", "value": "csv"}]}
PARAMETERS = {"day": "tuesday", "blob": "x" * 300}
REQUEST = dict(
    jobName="fan-out-views", jobQueue="views", jobDefinition="views:1",
    arrayProperties={"size": 4}, parameters=PARAMETERS,
    containerOverrides={"command": ["echo", "Ref::day", "Ref::blob"],
                        "environment": [{"name": "EXTRA", "value": "1"}],
                        "resourceRequirements": [{"type": "VCPU", "value": "2"}]},
    retryStrategy={"attempts": 2, "evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}]},
    timeout={"attemptDurationSeconds": 600}, schedulingPriorityOverride=5,
    tags={"team": "data", "cost": "42"}, propagateTags=True)


def normalise(value, parent: str, t0: int):
    if isinstance(value, dict):
        return {k: normalise(v, parent, t0) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, parent, t0) for v in value]
    if isinstance(value, str):
        return TASK.sub("TASK", value.replace(parent, "PARENT"))
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**12:
        return value - t0
    return value


def scenario(batch, url: str) -> dict:
    assert httpx.post(f"{url}/_cancelgate/reset", json={"fixtures": False}).status_code == 200
    t0 = httpx.get(f"{url}/_cancelgate/clock").json()["now"]
    batch.create_job_queue(jobQueueName="views", priority=1)
    batch.register_job_definition(jobDefinitionName="views", type="container", parameters={"day": "monday"},
                                  containerProperties=CONTAINER)
    parent = batch.submit_job(**REQUEST)["jobId"]
    ids = [parent] + [f"{parent}:{i}" for i in range(4)]
    views: dict = {}

    def record(label: str) -> None:
        jobs = batch.describe_jobs(jobs=ids)["jobs"]
        views[label] = {"describe": [{k: v for k, v in j.items()} for j in jobs],
                        "list": batch.list_jobs(arrayJobId=parent, filters=[
                            {"name": "JOB_NAME", "values": ["fan-out-*"]}])["jobSummaryList"],
                        "tags": batch.list_tags_for_resource(
                            resourceArn=jobs[1]["jobArn"])["tags"]}

    def advance(seconds: float) -> None:
        assert httpx.post(f"{url}/_cancelgate/clock/advance", json={"seconds": seconds}).status_code == 200

    def exit_(index: int, code: int) -> None:
        response = httpx.post(f"{url}/_cancelgate/batch/jobs/{parent}:{index}/exit", json={"exitCode": code})
        assert response.status_code == 200, response.text

    record("submitted")
    advance(1.5)    # RUNNABLE
    advance(3)      # two of them started (capacity 2) and RUNNING
    record("running")
    exit_(0, 1)     # retried: RUNNABLE again
    exit_(1, 3)     # EXIT rule: FAILED
    record("exited")
    batch.terminate_job(jobId=f"{parent}:2", reason="stop it")
    batch.tag_resource(resourceArn=f"arn:aws:batch:us-east-1:123456789012:job/{parent}:3",
                       tags={"own": "yes"})
    batch.untag_resource(resourceArn=f"arn:aws:batch:us-east-1:123456789012:job/{parent}:3",
                         tagKeys=["cost"])
    advance(30)
    record("later")
    views["tags3"] = batch.list_tags_for_resource(
        resourceArn=f"arn:aws:batch:us-east-1:123456789012:job/{parent}:3")["tags"]
    for label in list(views):
        for key in ("describe", "list"):
            if isinstance(views[label], dict) and key in views[label]:
                for job in views[label][key]:
                    job.pop("ResponseMetadata", None)
    return normalise(views, parent, t0)
