"""AWS Batch moving by itself on the clock: jobs SUBMITTED -> PENDING -> RUNNABLE -> STARTING ->
RUNNING -> SUCCEEDED, with the durations and queue capacities of the lifecycle file; compute
environments and job queues CREATING/UPDATING -> VALID and DELETING -> DELETED.
`_since` is when a document entered its status (set on first sight for jobs put in from outside).

Both rules take the family's World (world.py): the jobs, and the queues and environments whose
maxvCpus give a queue its capacity.
"""
from __future__ import annotations

from cancelgate.families.batch import attempts, environments, queues
from cancelgate.families.batch.rules import (FINISHED, ACTIVE, Job, child_ids, end_now, head_of_queue,
                                              is_array_parent, move, move_head, settle)
from cancelgate.families.batch.world import region_of

SETTLING_STATUSES = ("CREATING", "UPDATING", "DELETING")
SETTLING_DEFAULT_S = 2

CONFIG_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["durations", "capacity"],
    "properties": {
        "durations": {"type": "object", "additionalProperties": False, "properties": {
            status: {"type": "number", "minimum": 0}
            for status in ("SUBMITTED", "PENDING", "STARTING", "RUNNING") + SETTLING_STATUSES}},
        "capacity": {"type": "object", "additionalProperties": False, "required": ["default"], "properties": {
            "default": {"type": "integer", "minimum": 1},
            "queues": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}}},
    },
}


def _due(job: Job, config: dict, jobs) -> int | None:
    """When `job` next moves by itself; None if only a queue slot or another job can move it."""
    since = job["_since"]
    seconds = config["durations"].get(job["status"])
    if job["status"] == "PENDING":
        if is_array_parent(job):
            return None
        finished_at = since
        for dependency in job.get("dependsOn") or ():
            found = jobs.get(dependency["jobId"])
            if found is None:
                continue
            if found["status"] not in FINISHED:
                return None
            if found["status"] == "FAILED":
                return since  # fails as soon as it is looked at
            finished_at = max(finished_at, found.get("stoppedAt", since))
        return finished_at + int((seconds or 0) * 1000)
    if job["status"] == "RUNNING" and (limit := attempts.timeout_at(job)) is not None:
        return limit if seconds is None else min(limit, since + int(seconds * 1000))
    if seconds is None or job["status"] in FINISHED or job["status"] == "RUNNABLE":
        return None
    return since + int(seconds * 1000)


def _settle_due(doc: dict, config: dict) -> int | None:
    if doc.get("status") not in SETTLING_STATUSES:
        return None
    seconds = config["durations"].get(doc["status"], SETTLING_DEFAULT_S)
    return doc.get("_since", 0) + int(seconds * 1000)


def _settle(table, now: int, config: dict, key, changes: list) -> None:
    """Environments and queues: CREATING/UPDATING -> VALID, DELETING -> DELETED when due."""
    for doc in list(table.values()):
        due = _settle_due(doc, config)
        if due is None or due > now:
            continue
        status = environments.SETTLING[doc["status"]]
        reason = {"VALID": "ComputeEnvironment Healthy" if key == "computeEnvironmentName" else "JobQueue Healthy",
                  "DELETED": "Deleted"}[status]
        table[f"{doc['_region']}/{doc[key]}"] = {**doc, "status": status, "statusReason": reason, "_since": due}
        changes.append({"id": doc.get("computeEnvironmentArn") or doc.get("jobQueueArn"),
                        "from": doc["status"], "to": status, "at": due})


def lifecycle_next(world, config: dict) -> int | None:
    """The earliest time at which some document will move by itself (None: nothing will)."""
    jobs = world.jobs
    earliest = min((due for table in (world.environments, world.queues) for doc in table.values()
                    if (due := _settle_due(doc, config)) is not None), default=None)
    for queue in world.queues.values():
        if (limit := _limit_due(world, queue)) is not None and (earliest is None or limit[2] < earliest):
            earliest = limit[2]
    for job in jobs.values():
        if job["status"] in FINISHED or "_since" not in job:
            continue
        due = _due(job, config, jobs)
        if due is not None and (earliest is None or due < earliest):
            earliest = due
    return earliest


def lifecycle_step(world, now: int, config: dict) -> list[dict]:
    """Apply every transition due at `now`, until nothing more moves; return them in order.

    SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED after the configured
    durations; a PENDING job waits for its dependencies (a failed one fails it); RUNNABLE jobs
    leave their queue head first (priority, then age) while the queue has a free slot, a job
    with a recorded cancel failing there instead of starting; an array parent finishes when
    all its children have (SUCCEEDED only if they all did).
    """
    changes: list[dict] = []
    jobs = world.jobs
    _settle(world.environments, now, config, "computeEnvironmentName", changes)
    _settle(world.queues, now, config, "jobQueueName", changes)
    for job in list(jobs.values()):
        if "_since" not in job and job["status"] not in FINISHED:
            jobs[job["jobId"]] = {**job, "_since": now}
    moved = True
    while moved:
        moved = False
        order = sorted((j.get("createdAt", 0), j["jobId"]) for j in jobs.values()
                       if j["status"] not in FINISHED)
        for _, job_id in order:
            job = jobs.get(job_id)  # fresh: an earlier move in this pass may have settled it
            if job is None or job["status"] in FINISHED:
                continue
            if is_array_parent(job):
                moved |= _parent_step(jobs, job, now, config, changes)
                continue
            due = _due(job, config, jobs)
            if due is None or due > now:
                continue
            moved = True
            status = job["status"]
            if status == "SUBMITTED":
                move(jobs, job, "PENDING", due, changes)
            elif status == "PENDING":
                failed = [d["jobId"] for d in job.get("dependsOn") or ()
                          if (jobs.get(d["jobId"]) or {}).get("status") == "FAILED"]
                if failed:
                    done = move(jobs, job, "FAILED", due, changes, stoppedAt=due,
                                 statusReason=f"Dependent Job {failed[0]} failed")
                    settle(jobs, done, due)
                else:
                    move(jobs, job, "RUNNABLE", due, changes)
            elif status == "STARTING":
                move(jobs, job, "RUNNING", due, changes, startedAt=due)
            elif status == "RUNNING":
                if due == attempts.timeout_at(job):
                    attempts.end(jobs, job, due, attempts.TIMEOUT_EXIT_CODE, None, changes,
                                 status_reason=attempts.TIMED_OUT)
                else:   # left to run by itself, the container exits 0
                    attempts.end(jobs, job, due, 0, None, changes)
        moved |= _dispatch_queues(world, now, config, changes)
        moved |= _time_limits(world, now, changes)
    return changes


def _cancel_limit(queue: dict) -> dict | None:
    """The queue's jobStateTimeLimitAction that cancels RUNNABLE heads soonest, if any."""
    actions = [a for a in queue.get("jobStateTimeLimitActions") or ()
               if a.get("action") == "CANCEL" and a.get("state") == "RUNNABLE"]
    return min(actions, key=lambda a: a["maxTimeSeconds"], default=None)


def _limit_due(world, queue: dict) -> tuple[dict, dict, int] | None:
    """(head, action, when) for a queue whose RUNNABLE head a time-limit action will cancel."""
    action = _cancel_limit(queue)
    if action is None or queue["status"] in ("DELETING", "DELETED"):
        return None
    head = head_of_queue(world.jobs, queue["jobQueueName"], queue["_region"])
    if head is None or "_since" not in head:
        return None
    return head, action, head["_since"] + action["maxTimeSeconds"] * 1000


def _time_limits(world, now: int, changes: list) -> bool:
    """jobStateTimeLimitActions: a RUNNABLE job heading its queue (so waiting for room) longer
    than `maxTimeSeconds` is cancelled with the action's reason, as AWS does."""
    moved = False
    for queue in list(world.queues.values()):
        while (due := _limit_due(world, queue)) is not None and due[2] <= now:
            head, action, at = due
            end_now(world.jobs, head["jobId"], action["reason"], at)
            changes.append({"id": head["jobId"], "from": "RUNNABLE", "to": "FAILED", "at": at})
            moved = True
    return moved


def _parent_step(jobs, parent: Job, now: int, config: dict, changes: list) -> bool:
    if parent["status"] == "SUBMITTED":
        due = _due(parent, config, jobs)
        if due is None or due > now:
            return False
        move(jobs, parent, "PENDING", due, changes)
        return True
    if parent["status"] != "PENDING" or "_stop" in parent:
        return False  # a recorded cancel finishes the parent through settle()
    children = [jobs.get(c) for c in child_ids(parent)]
    if any(c is not None and c["status"] not in FINISHED for c in children):
        return False
    failed = any(c is not None and c["status"] == "FAILED" for c in children)
    done = move(jobs, parent, "FAILED" if failed else "SUCCEEDED", now, changes, stoppedAt=now,
                 statusReason="An array child failed" if failed else "All array children succeeded")
    settle(jobs, done, now)
    return True


def _dispatch_queues(world, now: int, config: dict, changes: list) -> bool:
    """Start the head RUNNABLE jobs of each queue while it has room: the vCPUs of its ENABLED,
    VALID environments, or, for a queue with no environment, the lifecycle file's job count."""
    jobs = world.jobs
    capacity = config["capacity"]
    running: dict[tuple, int] = {}
    used: dict[tuple, float] = {}
    queued = set()
    for job in jobs.values():
        if is_array_parent(job):
            continue
        where = (region_of(job), job["jobQueue"])
        if job["status"] in ACTIVE:
            running[where] = running.get(where, 0) + 1
            used[where] = used.get(where, 0.0) + job.get("_vcpus", 1.0)
        elif job["status"] == "RUNNABLE":
            queued.add(where)
    moved = False
    for where in sorted(queued):
        region, queue = where
        vcpus = queues.capacity_vcpus(world.in_region(region), queue)
        limit = capacity.get("queues", {}).get(queue, capacity.get("default", 1))
        while True:
            if vcpus is None:
                if running.get(where, 0) >= limit:
                    break
            else:
                head = head_of_queue(jobs, queue, region)
                if head is None or used.get(where, 0.0) + head.get("_vcpus", 1.0) > vcpus:
                    break
            head = move_head(jobs, queue, now, changes, region)
            if head is None:
                break
            moved = True
            if head["status"] == "STARTING":
                running[where] = running.get(where, 0) + 1
                used[where] = used.get(where, 0.0) + head.get("_vcpus", 1.0)
    return moved

