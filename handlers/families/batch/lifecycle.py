"""AWS Batch moving by itself on the clock: jobs SUBMITTED -> PENDING -> RUNNABLE -> STARTING ->
RUNNING -> SUCCEEDED, with the durations and queue capacities of the lifecycle file; compute
environments and job queues CREATING/UPDATING -> VALID and DELETING -> DELETED.
`_since` is when a document entered its status (set on first sight for jobs put in from outside).

Both rules take the family's World (world.py): the jobs, and the queues and environments whose
maxvCpus give a queue its capacity.
"""
from __future__ import annotations

from cancelgate.families.batch import attempts, environments, indexes, queues
from cancelgate.families.batch.rules import (FINISHED, Job, end_now, finish_parent_if_done, head_of_queue,
                                              is_array_parent, mark_failed_dependency, move, move_head, settle)
from cancelgate.families.poison import blamed
from cancelgate.store.indexes import first_number, key_of, num, number_of

JOBS_TABLE = "batch_jobs"

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


def unseen(job: Job) -> bool:
    """A job the first step only stamps (Lifecycle.unseen): an array parent is not one, since
    the first look also finishes it if every child has finished already."""
    return indexes.is_unseen(job) and not is_array_parent(job)


def _due(job: Job, config: dict, jobs) -> int | None:
    """When `job` next moves by itself; None if only a queue slot or another job can move it."""
    since = job["_since"]
    seconds = config["durations"].get(job["status"])
    if job["status"] == "PENDING":
        if is_array_parent(job):
            return job.get("_children_done")
        if "_dependency_failed" in job:
            return max(since, job["_dependency_failed"])
        finished_at = max(since, job.get("_ready_at", since))
        for dependency in job.get("dependsOn") or ():
            found = jobs.get(dependency["jobId"])
            if found is None:
                continue
            if found["status"] not in FINISHED:
                return None
            if found["status"] == "FAILED":
                return max(since, found.get("stoppedAt", since))  # fails as soon as it is looked at
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


def _waits(config: dict) -> list[tuple[str, int]]:
    """(DUE group, ms a job spends in it): the statuses that move on the clock."""
    waits = [(status, int(seconds * 1000)) for status in ("SUBMITTED", "STARTING", "RUNNING")
             if (seconds := config["durations"].get(status)) is not None]
    return waits + [("PENDING", int((config["durations"].get("PENDING") or 0) * 1000)), (indexes.ARRAY_DONE, 0),
                    (indexes.DEPENDENCY_FAILED, 0)]


def lifecycle_next(world, config: dict) -> int | None:
    """The earliest time at which some document will move by itself (None: nothing will)."""
    jobs = world.jobs
    times = [due for table in (world.environments, world.queues) for doc in table.values()
             if (due := _settle_due(doc, config)) is not None]
    times += [limit[2] for queue in world.queues.values() if (limit := _limit_due(world, queue)) is not None]
    times += [at + wait for group, wait in _waits(config) if (at := first_number(jobs, indexes.DUE, group)) is not None]
    times += [first_number(jobs, indexes.DEADLINE, ""), first_number(jobs, indexes.UNSEEN, ""),
              _dispatchable(world, config)]
    return min((t for t in times if t is not None), default=None)


def _due_now(jobs, now: int, config: dict, limit: int) -> list[str]:
    """Up to `limit` jobs of each timed status due by `now`: ids in the order they fell due
    (then by id), read from the index without reading the jobs."""
    due: dict[str, int] = {}
    for item in jobs.members(indexes.DEADLINE, "", num(now), limit):
        due[key_of(item)] = number_of(item)
    for group, wait in _waits(config):
        for item in jobs.members(indexes.DUE, group, num(now - wait), limit):
            at = number_of(item) + wait
            key = key_of(item)
            due[key] = min(at, due.get(key, at))
    return sorted(due, key=lambda key: (due[key], key))


def lifecycle_step(world, now: int, config: dict, budget: int = 1000) -> list[dict]:
    """Apply the transitions due at `now` (about `budget` of them: the scheduler calls again
    while a step returns that many), until nothing more moves; return them in order.

    SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED after the configured
    durations; a PENDING job waits for its dependencies (a failed one fails it); RUNNABLE jobs
    leave their queue head first (priority, then age) while the queue has a free slot, a job
    with a recorded cancel failing there instead of starting; an array parent finishes when
    all its children have (SUCCEEDED only if they all did). Each job's move runs under
    `blamed`, so a job a rule cannot handle is reported (and quarantined), not retried forever.
    """
    changes: list[dict] = []
    jobs = world.jobs
    _settle(world.environments, now, config, "computeEnvironmentName", changes)
    _settle(world.queues, now, config, "jobQueueName", changes)
    for key in jobs.ordered(indexes.UNSEEN, "", limit=budget):
        with blamed(JOBS_TABLE, key):
            seen = jobs[key] = {**jobs.get(key), "_since": now}
            if is_array_parent(seen):   # put in with every child finished already
                finish_parent_if_done(jobs, key, now)
    moved = True
    while moved and len(changes) < budget:
        moved = False
        for job_id in _due_now(jobs, now, config, budget - len(changes)):
            if len(changes) >= budget:
                break
            with blamed(JOBS_TABLE, job_id):
                moved |= _apply(jobs, job_id, now, config, changes)
        with blamed(JOBS_TABLE, None):
            moved |= _dispatch_queues(world, now, config, changes, budget)
            moved |= _time_limits(world, now, changes)
    return changes


def _apply(jobs, job_id: str, now: int, config: dict, changes: list) -> bool:
    """Move one job that the indexes say is due; False if it turns out it is not (yet)."""
    job = jobs.get(job_id)  # fresh: an earlier move in this pass may have settled it
    if job is None or job["status"] in FINISHED:
        return False
    if is_array_parent(job):
        return _parent_step(jobs, job, now, config, changes)
    due = _due(job, config, jobs)
    if due is None or due > now:
        if job["status"] == "PENDING":   # out of DUE until its dependencies let it go (settle)
            jobs[job_id] = ({**job, "_blocked": True} if due is None
                            else {**job, "_ready_at": due - int((config["durations"].get("PENDING") or 0) * 1000)})
        return False
    status = job["status"]
    if status == "SUBMITTED":
        mark_failed_dependency(jobs, move(jobs, job, "PENDING", due, changes))
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
    return True


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
        finish_parent_if_done(jobs, parent["jobId"], due)
        return True
    if parent["status"] != "PENDING" or "_stop" in parent or "_children_done" not in parent:
        return False  # a recorded cancel finishes the parent through settle()
    if indexes.open_children(jobs, parent["jobId"]) > 0:   # a child was put back to work since
        jobs[parent["jobId"]] = {k: v for k, v in parent.items() if k != "_children_done"}
        return False
    at = max(parent["_children_done"], parent["_since"])
    failed = indexes.children_in(jobs, parent["jobId"], "FAILED") > 0
    done = move(jobs, parent, "FAILED" if failed else "SUCCEEDED", at, changes, stoppedAt=at,
                statusReason="An array child failed" if failed else "All array children succeeded")
    settle(jobs, done, at)
    return True


class _Room:
    """What a queue (`<region>/<queue>`) runs and may run: the vCPUs of its ENABLED, VALID
    environments, or, for a queue with no environment, the lifecycle file's job count. What
    it runs is its ACTIVE index group: a count, and the vCPUs in its sort keys."""

    def __init__(self, world, where: str, config: dict):
        jobs = world.jobs
        self.region, self.queue = where.split("/", 1)
        capacity = config["capacity"]
        self.vcpus = queues.capacity_vcpus(world.in_region(self.region), self.queue)
        self.limit = capacity.get("queues", {}).get(self.queue, capacity.get("default", 1))
        self.running = jobs.size(indexes.ACTIVE, where)
        self.used = (sum(number_of(m) for m in jobs.members(indexes.ACTIVE, where)) / 1000
                     if self.vcpus is not None else 0.0)

    def fits(self, head: Job) -> bool:
        if self.vcpus is None:
            return self.running < self.limit
        return self.used + head.get("_vcpus", 1.0) <= self.vcpus

    def take(self, head: Job) -> None:
        self.running += 1
        self.used += head.get("_vcpus", 1.0)


def _dispatchable(world, config: dict) -> int | None:
    """When the earliest head that has room now became RUNNABLE (it is due at once)."""
    times = []
    for where in world.jobs.groups(indexes.QUEUE):
        room = _Room(world, where, config)
        head = head_of_queue(world.jobs, room.queue, room.region)
        try:
            fits = head is not None and room.fits(head)
        except (TypeError, ValueError):   # a head the dispatch will quarantine: due now
            fits = True
        if fits:
            times.append(head.get("_since", 0))
    return min(times, default=None)


def _dispatch_queues(world, now: int, config: dict, changes: list, budget: int) -> bool:
    """Start the head RUNNABLE jobs of each queue while it has room (_Room)."""
    jobs = world.jobs
    moved = False
    parents: dict = {}   # array parents' recorded stops, read once per step
    for where in jobs.groups(indexes.QUEUE):
        room = _Room(world, where, config)
        while len(changes) < budget:
            head = head_of_queue(jobs, room.queue, room.region)
            if head is None:
                break
            with blamed(JOBS_TABLE, head["jobId"]):
                if not room.fits(head):
                    break
                head = move_head(jobs, room.queue, now, changes, room.region, parents)
            moved = True
            if head["status"] == "STARTING":
                room.take(head)
    return moved
