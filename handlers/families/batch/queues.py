"""Job queues: CreateJobQueue, Describe, Update, Delete, GetJobQueueSnapshot.

A document is the queue as DescribeJobQueues shows it (computeEnvironmentOrder with ARNs), plus
`_region` and `_since`. CREATING and UPDATING become VALID, DELETING becomes DELETED, on the
clock.
"""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families import paging
from cancelgate.families.batch import children, environments, indexes, rules
from cancelgate.families.batch.world import World, name_from

DELETED_REASON = "Job queue deleted"
STORED = ("state", "schedulingPolicyArn", "priority", "jobQueueType", "tags", "jobStateTimeLimitActions",
          "serviceEnvironmentOrder")


def find(world: World, ref: str) -> dict | None:
    name = name_from(ref, "job-queue", world)
    return None if name is None else world.queues.get(world.key(name))


def existing(world: World, ref: str) -> dict:
    queue = find(world, ref)
    if queue is None or queue["status"] == "DELETED":
        raise ApiError("ClientException", f"JobQueue {ref} not found.")
    return queue


def _order(world: World, order: list[dict]) -> list[dict]:
    """computeEnvironmentOrder with every environment checked and named by ARN."""
    if len(order) > 3:
        raise ApiError("ClientException", "A job queue can have at most 3 compute environments")
    resolved, kinds = [], set()
    for entry in sorted(order, key=lambda e: e["order"]):
        env = environments.find(world, entry["computeEnvironment"])
        if env is None or env["status"] in ("DELETING", "DELETED"):
            raise ApiError("ClientException", f"ComputeEnvironment {entry['computeEnvironment']} does not exist")
        kinds.add((env.get("computeResources") or {}).get("type") in environments.FARGATE)
        resolved.append({"order": entry["order"], "computeEnvironment": env["computeEnvironmentArn"]})
    if len(kinds) > 1:
        raise ApiError("ClientException", "A job queue cannot mix Fargate and EC2 compute environments")
    if len({e["order"] for e in resolved}) != len(resolved):
        raise ApiError("ClientException", "Each compute environment of a job queue needs its own order")
    return resolved


def create(world: World, request: dict, now: int) -> dict:
    name = request["jobQueueName"]
    previous = world.queues.get(world.key(name))
    if previous is not None and previous["status"] != "DELETED":
        raise ApiError("ClientException", "Object already exists")
    order = _order(world, request.get("computeEnvironmentOrder") or [])
    queue = {k: request[k] for k in STORED if k in request}
    queue.setdefault("state", "ENABLED")
    arn = world.arn("job-queue", name)
    queue.update(jobQueueName=name, jobQueueArn=arn, status="CREATING",
                 statusReason="JobQueue is being created", computeEnvironmentOrder=order,
                 _region=world.region, _since=now)
    world.queues[world.key(name)] = queue
    return {"jobQueueName": name, "jobQueueArn": arn}


def update(world: World, request: dict, now: int) -> dict:
    queue = existing(world, request["jobQueue"])
    if queue["status"] == "DELETING":
        raise ApiError("ClientException", f"Cannot update, JobQueue {queue['jobQueueName']} is DELETING")
    changed = {**queue, **{k: request[k] for k in STORED if k in request}}
    if "computeEnvironmentOrder" in request:
        changed["computeEnvironmentOrder"] = _order(world, request["computeEnvironmentOrder"])
    changed.update(status="UPDATING", statusReason="JobQueue is being updated", _since=now)
    world.queues[world.key(queue["jobQueueName"])] = changed
    return {"jobQueueName": queue["jobQueueName"], "jobQueueArn": queue["jobQueueArn"]}


def delete(world: World, request: dict, now: int) -> dict:
    """DeleteJobQueue: a DISABLED queue only; every unfinished job in it ends now."""
    queue = existing(world, request["jobQueue"])
    if queue["state"] != "DISABLED":
        raise ApiError("ClientException",
                       f"Cannot delete, JobQueue {queue['jobQueueName']} is ENABLED; disable it first")
    if queue["status"] == "DELETING":
        return {}
    name = queue["jobQueueName"]
    unfinished = [job for key in indexes.in_queue(world.jobs, name, world.region, rules.NOT_STARTED + rules.ACTIVE)
                  if (job := world.jobs.get(key)) is not None]
    for job in sorted(unfinished, key=rules.is_array_parent):   # children and plain jobs first
        rules.end_now(world.jobs, job["jobId"], DELETED_REASON, now)
    world.queues[world.key(name)] = {**queue, "status": "DELETING", "statusReason": "JobQueue is being deleted",
                                     "_since": now}
    return {}


def public(queue: dict) -> dict:
    return {k: v for k, v in queue.items() if not k.startswith("_")}


def describe(world: World, request: dict) -> dict:
    names = request.get("jobQueues")
    if names:
        selected = [q for q in (find(world, ref) for ref in dict.fromkeys(names)) if q is not None]
    else:
        selected = sorted((q for q in world.queues.values()
                           if q.get("_region") == world.region and q["status"] != "DELETED"),
                          key=lambda q: q["jobQueueName"])
    return paging.listed(selected, request.get("nextToken"), request.get("maxResults") or 100,
                         "ClientException", "jobQueues", public)


def accepting(world: World, ref: str) -> dict:
    """The queue SubmitJob puts a job into: it must exist and be ENABLED."""
    queue = existing(world, ref)
    if queue["status"] in ("DELETING", "DELETED"):
        raise ApiError("ClientException", f"JobQueue {ref} not found.")
    if queue["state"] != "ENABLED":
        raise ApiError("ClientException", f"JobQueue {queue['jobQueueArn']} is DISABLED and does not accept new jobs.")
    return queue


def capacity_vcpus(world: World, queue_name: str) -> int | None:
    """The vCPUs a queue's environments offer (ENABLED and VALID ones), or None for a queue
    with no environment (the lifecycle file's per-queue job count applies then)."""
    queue = world.queues.get(world.key(queue_name))
    if queue is None or not queue.get("computeEnvironmentOrder"):
        return None
    return sum(environments.vcpus(world, e["computeEnvironment"]) for e in queue["computeEnvironmentOrder"])


SNAPSHOT_SIZE = 100


def snapshot(world: World, request: dict, now: int) -> dict:
    """GetJobQueueSnapshot: the RUNNABLE jobs in the order the queue dispatches them."""
    queue = existing(world, request["jobQueue"])
    group = f"{world.region}/{queue['jobQueueName']}"
    waiting = [world.jobs.get(key) for key in world.jobs.ordered(indexes.QUEUE, group, limit=SNAPSHOT_SIZE)]
    return {"frontOfQueue": {"jobs": [{"jobArn": children.view(world.jobs, job)["jobArn"],
                                       "earliestTimeAtPosition": job.get("_since", now)}
                                      for job in waiting if job is not None],
                             "lastUpdatedAt": now}}
