"""A job as DescribeJobs and ListJobs show it: queue and definition as ARNs, the container with
its task and log stream, one attempt per ended attempt, and nothing the model lacks."""
from __future__ import annotations

import uuid

from cancelgate.families.batch import children, rules
from cancelgate.families.batch.world import World, region_of

SHOWN_ONCE_STARTED = ("STARTING", "RUNNING")


def queue_arn(world: World, job: dict) -> str:
    queue = job.get("jobQueue", "")
    return queue if queue.startswith("arn:") else world.in_region(region_of(job)).arn("job-queue", queue)


def definition_arn(world: World, job: dict) -> str:
    ref = job.get("jobDefinition", "")
    return ref if ref.startswith("arn:") else world.in_region(region_of(job)).arn("job-definition", ref)


def task_id(job: dict, attempt: int) -> str:
    """The ECS task id of a job's attempt (0-based): the same every time it is asked."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{job['jobId']}#{attempt}").hex


def _task(world: World, job: dict, attempt: int) -> dict:
    task = task_id(job, attempt)
    name = definition_arn(world, job).rsplit("/", 1)[-1].split(":")[0]
    region = region_of(job)
    return {"taskArn": f"arn:aws:ecs:{region}:{world.account}:task/{task}",
            "logStreamName": f"{name}/default/{task}"}


def job_detail(world: World, job: dict) -> dict:
    job = children.view(world.jobs, job)
    shown = rules.public(world.jobs, job)
    for field in ("containerOverrides",):   # stored by older servers; not a JobDetail member
        shown.pop(field, None)
    shown["jobQueue"] = queue_arn(world, job)
    shown["jobDefinition"] = definition_arn(world, job)
    if job["status"] == "SUCCEEDED":
        shown.pop("statusReason", None)
    attempts = []
    for index, attempt in enumerate(job.get("attempts") or ()):
        attempts.append({**attempt, "container": {**_task(world, job, index), **attempt.get("container", {})}})
    shown["attempts"] = attempts
    if "nodeProperties" not in job or "container" in job:
        box = dict(job.get("container") or {})
        if job["status"] in SHOWN_ONCE_STARTED:
            box.update(_task(world, job, len(attempts)))
        elif attempts:
            last = attempts[-1]["container"]
            box.update({k: last[k] for k in ("taskArn", "logStreamName", "exitCode", "reason") if k in last})
        if not rules.is_array_parent(job):
            shown["container"] = box
    return shown


def summary(world: World, job: dict) -> dict:
    job = children.view(world.jobs, job)
    shown = rules.summary(job)
    if "jobDefinition" in shown:
        shown["jobDefinition"] = definition_arn(world, job)
    return shown
