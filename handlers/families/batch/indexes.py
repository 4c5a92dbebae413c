"""The indexes the store keeps over Batch jobs, so the lifecycle and the queues find what they
need without scanning the jobs (store/indexes.py):

- DUE: jobs that move on the clock, grouped by status, by the time they entered it (`_since`;
  a PENDING job by when its dependencies let it go). The lifecycle file's duration of the
  status is added when asked, so a job's place does not depend on the file.
- DEADLINE: RUNNING jobs with an attempt timeout, by when it runs out.
- QUEUE: RUNNABLE jobs of each `<region>/<queue>`, in dispatch order (priority, then age).
- ACTIVE: STARTING and RUNNING jobs of each queue, the sort key their milli-vCPUs.
- CHILDREN: array children by `<parent>|<status>`: a parent's summary and whether it is done.
- UNSEEN: unfinished jobs put in from outside without `_since`, whose clock starts when seen.
- LISTED: every job by `<region>/<queue>|<status>`, newest first (then by id): ListJobs' order.

A quarantined job (`_quarantined`: a lifecycle step raised on it) is left out of what moves.
"""
from __future__ import annotations

import heapq
import math

from cancelgate.families.family import Index
from cancelgate.store.indexes import key_of, num

DUE, DEADLINE, QUEUE, ACTIVE, CHILDREN, UNSEEN, LISTED = ("due", "deadline", "queue", "active", "children",
                                                          "unseen", "listed")
FINISHED = ("SUCCEEDED", "FAILED")
ARRAY_DONE = "ARRAY_DONE"   # the DUE group of array parents whose children have all finished
DEPENDENCY_FAILED = "DEPENDENCY_FAILED"   # ... and of PENDING jobs a failed dependency fails at once
TIMED = ("SUBMITTED", "PENDING", "STARTING", "RUNNING")


def queue_group(job: dict) -> str:
    return f"{job.get('_region', 'us-east-1')}/{job.get('jobQueue')}"


def _int(value, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _parent(job: dict) -> bool:
    props = job.get("arrayProperties")
    return isinstance(props, dict) and "size" in props and "index" not in props


def _at(group: str, key: str | None):
    return None if key is None else (group, key)


# Each entry function looks at the status first: most writes leave most indexes at None.

def _due(job: dict):
    status = job.get("status")
    if status not in TIMED or "_since" not in job or "_quarantined" in job:
        return None
    since = job["_since"]
    if _parent(job):
        if status == "SUBMITTED":
            return _at(status, num(since))
        if status == "PENDING" and "_children_done" in job:
            return _at(ARRAY_DONE, num(job["_children_done"]))
        return None
    if status == "PENDING":
        if "_dependency_failed" in job:
            return _at(DEPENDENCY_FAILED, num(job["_dependency_failed"]))
        if job.get("_blocked"):
            return None
        ready = job.get("_ready_at")
        return _at(status, num(max(since, ready) if isinstance(ready, int) and isinstance(since, int) else since))
    return _at(status, num(since))


def _deadline(job: dict):
    if job.get("status") != "RUNNING" or "_quarantined" in job or _parent(job):
        return None
    timeout = job.get("timeout")
    seconds = timeout.get("attemptDurationSeconds") if isinstance(timeout, dict) else None
    if not isinstance(seconds, int) or not isinstance(job.get("startedAt"), int):
        return None
    return _at("", num(job["startedAt"] + seconds * 1000))


def _queue(job: dict):
    if job.get("status") != "RUNNABLE" or "_quarantined" in job or _parent(job):
        return None
    priority, created = num(-_int(job.get("schedulingPriority"))), num(_int(job.get("createdAt")))
    if priority is None or created is None:
        return None
    return f"{job.get('_region', 'us-east-1')}/{job.get('jobQueue')}", priority + created   # queue_group, inlined


def _active(job: dict):
    if job.get("status") not in ("STARTING", "RUNNING") or _parent(job):
        return None
    vcpus = job.get("_vcpus", 1.0)
    milli = num(round(vcpus * 1000)) if isinstance(vcpus, (int, float)) and math.isfinite(vcpus) else None
    return queue_group(job), milli or num(1000)


def _children(job: dict):
    props = job.get("arrayProperties")
    index = props.get("index") if isinstance(props, dict) else None
    job_id = job.get("jobId")
    if not isinstance(index, int) or not isinstance(job_id, str) or ":" not in job_id:
        return None
    return _at(f"{job_id.rsplit(':', 1)[0]}|{job.get('status')}", num(index))


def _unseen(job: dict):
    if "_since" in job or job.get("status") in FINISHED or "_quarantined" in job:
        return None
    return "", num(0)   # due at once, whenever the job says it was created


def is_unseen(job: dict) -> bool:
    return _unseen(job) is not None


def _listed(job: dict):
    queue = job.get("jobQueue")
    if not isinstance(queue, str):
        return None
    created = job.get("createdAt")
    at = num(-created if type(created) is int else 0)   # _int, inlined: every write asks this one
    return None if at is None else (f"{job.get('_region', 'us-east-1')}/{queue}|{job.get('status')}", at)


INDEXES = (Index(DUE, _due, frozenset(TIMED)), Index(DEADLINE, _deadline, frozenset({"RUNNING"})),
           Index(QUEUE, _queue, frozenset({"RUNNABLE"})), Index(ACTIVE, _active, frozenset({"STARTING", "RUNNING"})),
           Index(CHILDREN, _children), Index(UNSEEN, _unseen), Index(LISTED, _listed))
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def children_in(jobs, parent_id: str, status: str) -> int:
    return jobs.size(CHILDREN, f"{parent_id}|{status}")


def open_children(jobs, parent_id: str) -> int:
    return sum(children_in(jobs, parent_id, s) for s in STATUSES if s not in FINISHED)


def in_queue(jobs, queue: str, region: str | None, statuses) -> list[str]:
    """Ids of the jobs of a queue in these statuses, newest first (`region` None: any region)."""
    if region is not None:
        groups = [f"{region}/{queue}|{status}" for status in statuses]
    else:
        wanted = {f"{queue}|{status}" for status in statuses}
        groups = [g for g in jobs.groups(LISTED) if g.split("/", 1)[-1] in wanted]
    return [key_of(m) for m in heapq.merge(*(jobs.members(LISTED, g) for g in groups))]
