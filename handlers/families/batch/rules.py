"""AWS Batch job state: what CancelJob, TerminateJob, SubmitJob and queue dispatch do to jobs.

Seeds 001 (CancelJob) and 002 (TerminateJob) decide, where they differ from newer AWS text:
SUBMITTED jobs, and PENDING jobs with no unfinished dependency, fail at once; PENDING jobs still
waiting on dependencies and RUNNABLE jobs keep the cancel until they would move on (the last
dependency finishes; the job reaches the head of its queue); STARTING and RUNNING jobs are only
stopped by TerminateJob; finished jobs never change.

`jobs` is a table of job id -> job document offering `get`, item assignment, `values()` and the
indexes of indexes.py (a store transaction in the server, an `IndexedDict` in unit tests).
Documents read are treated as read-only: every change writes a new document. Keys starting
with `_` are our own bookkeeping and never leave the server: `_stop` is a recorded cancel or
terminate that has not taken effect yet, `_dependents` the ids of jobs whose `dependsOn` names
this job, `_blocked` a PENDING job waiting for a dependency to finish, `_ready_at` when its last
one did, `_children_done` when the last child of an array parent finished.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from cancelgate.errors import ApiError
from cancelgate.families import paging
from cancelgate.families.batch import children, indexes

NOT_STARTED = ("SUBMITTED", "PENDING", "RUNNABLE")
ACTIVE = ("STARTING", "RUNNING")
FINISHED = ("SUCCEEDED", "FAILED")

# The same pattern as `JobId` in openapi/batch.yaml. The bulk operations answer per id, so
# there a malformed id is one entry in `errors`, not a rejection of the whole request.
JOB_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(:[0-9]{1,5})?$")

Job = dict[str, Any]


def job_arn(region: str, account: str, job_id: str) -> str:
    return f"arn:aws:batch:{region}:{account}:job/{job_id}"


def is_array_parent(job: Job) -> bool:
    props = job.get("arrayProperties") or {}
    return "size" in props and "index" not in props


def child_ids(job: Job) -> list[str]:
    return [f"{job['jobId']}:{i}" for i in range(job["arrayProperties"]["size"])]


def parent_id(job: Job) -> str | None:
    if "index" in (job.get("arrayProperties") or {}):
        return job["jobId"].rsplit(":", 1)[0]
    return None


def dependencies_finished(jobs, job: Job) -> bool:
    for dependency in job.get("dependsOn") or ():
        found = jobs.get(dependency["jobId"])
        if found is not None and found["status"] not in FINISHED:
            return False
    return True


# --- cancel and terminate -------------------------------------------------------------------

def _unfinished(jobs, job_id: str) -> Job | None:
    """The job to stop, the caller's own copy; None if there is none or it has finished (a
    finished job is only peeked at, not copied to be left as it is)."""
    seen = jobs.peek(job_id)
    if seen is None or seen["status"] in FINISHED:
        return None
    return jobs.get(job_id)


def stop_job(jobs, job_id: str, reason: str, now: int, *, terminate: bool) -> None:
    """CancelJob (`terminate=False`) or TerminateJob (`terminate=True`) on one job.

    An id of no job is a no-op, as AWS answers 200 for it.
    """
    job = _unfinished(jobs, job_id)
    if job is None:
        return
    if is_array_parent(job):
        _stop_array(jobs, job, reason, now, terminate)
        return
    status = job["status"]
    if status == "SUBMITTED" or (status == "PENDING" and dependencies_finished(jobs, job)):
        _fail(jobs, job, reason, now, "isCancelled")
    elif status in NOT_STARTED:
        if "_stop" not in job:
            jobs[job_id] = {**job, "_stop": {"reason": reason}}
    elif terminate:  # STARTING or RUNNING
        _fail(jobs, job, reason, now, "isTerminated")


def _stop_array(jobs, parent: Job, reason: str, now: int, terminate: bool, *, everything: bool = False) -> None:
    """The stop is recorded on the parent, which is all its RUNNABLE children need: each fails
    when it reaches the head of its queue (move_head asks the parent). Children that fail at
    once (SUBMITTED, PENDING; STARTING and RUNNING too for a terminate) are found in the
    CHILDREN index, so the cost is that of the children that change, and the last one to
    finish fails the parent (settle). `everything`: RUNNABLE children end at once too."""
    if "_stop" not in parent:
        jobs[parent["jobId"]] = {**parent, "_stop": {"reason": reason}}
    statuses = NOT_STARTED if everything else ("SUBMITTED", "PENDING")
    if terminate:
        statuses += ACTIVE
    for status in statuses:
        for child in jobs.ordered(indexes.CHILDREN, f"{parent['jobId']}|{status}"):
            if everything:
                end_now(jobs, child, reason, now)
            else:
                stop_job(jobs, child, reason, now, terminate=terminate)
    finish_parent_if_done(jobs, parent["jobId"], now)


def _fail(jobs, job: Job, reason: str, now: int, flag: str) -> None:
    failed = {k: v for k, v in job.items() if k != "_stop" and k not in PENDING_MARKS}
    if flag == "isTerminated" and job["status"] in ACTIVE:
        failed = end_attempt(failed, now, TERMINATED_EXIT_CODE, reason)
    failed.update(status="FAILED", statusReason=reason, stoppedAt=now)
    failed[flag] = True
    jobs[job["jobId"]] = failed
    settle(jobs, failed, now)


# A terminated container gets SIGTERM: the exit code a shell reports for it (128 + 15).
TERMINATED_EXIT_CODE = 143


def end_attempt(job: Job, now: int, exit_code: int, reason: str) -> Job:
    """`job` with its current attempt (it is STARTING or RUNNING) recorded as ended."""
    attempt: dict = {"container": {"exitCode": exit_code}, "stoppedAt": now, "statusReason": reason}
    if "startedAt" in job:
        attempt["startedAt"] = job["startedAt"]
    return {**job, "attempts": [*(job.get("attempts") or ()), attempt]}


def end_now(jobs, job_id: str, reason: str, now: int) -> None:
    """The job ends at once, started or not (its queue is deleted): not-started jobs are
    cancelled, STARTING and RUNNING ones terminated; an array parent ends with its children."""
    job = _unfinished(jobs, job_id)
    if job is None:
        return
    if is_array_parent(job):
        _stop_array(jobs, job, reason, now, True, everything=True)
    elif job["status"] in NOT_STARTED:
        _fail(jobs, job, reason, now, "isCancelled")
    else:
        _fail(jobs, job, reason, now, "isTerminated")


def settle(jobs, job: Job, now: int) -> None:
    """Consequences of `job` having finished: dependents waiting on it may go on (or apply their
    recorded cancel), and its array parent learns whether all its children are done."""
    if job["status"] not in FINISHED:
        return
    for dependent_id in job.get("_dependents") or ():
        dependent = jobs.get(dependent_id)
        if dependent is None or dependent["status"] != "PENDING" or is_array_parent(dependent):
            continue
        if job["status"] == "FAILED" and "_stop" not in dependent:
            if "_dependency_failed" not in dependent:   # the lifecycle fails it at once
                jobs[dependent_id] = {**{k: v for k, v in dependent.items() if k != "_blocked"},
                                      "_dependency_failed": max(dependent.get("_since", 0), job.get("stoppedAt", now))}
            continue
        if not dependencies_finished(jobs, dependent):
            continue
        if "_stop" in dependent:
            _fail(jobs, dependent, dependent["_stop"]["reason"], now, "isCancelled")
        elif dependent.get("_blocked"):
            ready = max(dependent.get("_ready_at", 0), job.get("stoppedAt", now))
            jobs[dependent_id] = {**{k: v for k, v in dependent.items() if k != "_blocked"}, "_ready_at": ready}
    parent = parent_id(job)
    if parent is not None:
        finish_parent_if_done(jobs, parent, now)


def finish_parent_if_done(jobs, parent_job_id: str, now: int) -> None:
    """A recorded stop fails the parent once no child is left unfinished; without one, the
    parent is marked for the lifecycle to finish (SUCCEEDED, or FAILED if a child failed).
    The count comes first: the parent (which may hold large parameters) is read only then."""
    if indexes.open_children(jobs, parent_job_id) > 0:
        return
    parent = jobs.get(parent_job_id)
    if parent is None or parent["status"] in FINISHED or not is_array_parent(parent):
        return
    if "_stop" in parent:
        _fail(jobs, parent, parent["_stop"]["reason"], now, "isCancelled")
    elif parent["status"] == "PENDING" and "_children_done" not in parent:
        jobs[parent_job_id] = {**parent, "_children_done": now}


def stop_jobs(jobs, job_ids: Iterable[str], reason: str, now: int, *, terminate: bool) -> dict:
    """CancelJobs / TerminateJobs: every id answered on its own, unknown ids count as successful."""
    successful: list[str] = []
    errors: list[dict] = []
    for job_id in job_ids:
        if not JOB_ID.match(job_id):
            errors.append({"job": job_id, "code": "ValidationException",
                           "message": "jobId is not a valid AWS Batch job id"})
            continue
        stop_job(jobs, job_id, reason, now, terminate=terminate)
        successful.append(job_id)
    return {"successful": successful, "errors": errors}


# --- queue dispatch ---------------------------------------------------------------------------

def dispatch_order(job: Job) -> tuple:
    """The order a queue dispatches its RUNNABLE jobs in: highest priority, then oldest."""
    return (-job.get("schedulingPriority", 0), job.get("createdAt", 0), job["jobId"])


def head_of_queue(jobs, queue: str, region: str | None = None) -> Job | None:
    """The RUNNABLE job the queue would dispatch next: highest priority, then oldest (the QUEUE
    index's first). `region` None: the queue of that name in any region (the control plane)."""
    if region is not None:
        groups = [f"{region}/{queue}"]
    else:
        groups = [g for g in jobs.groups(indexes.QUEUE) if g.split("/", 1)[1] == queue]
    heads = [jobs.get(first[0]) for g in groups if (first := jobs.ordered(indexes.QUEUE, g, limit=1))]
    return min((h for h in heads if h is not None), key=dispatch_order, default=None)


PENDING_MARKS = ("_blocked", "_ready_at", "_children_done", "_dependency_failed")


def failed_dependency_at(jobs, job: Job) -> int | None:
    """When the first of `job`'s failed dependencies failed (None: none has)."""
    if not job.get("dependsOn"):
        return None
    times = [found.get("stoppedAt", 0) for d in job["dependsOn"]
             if (found := jobs.get(d["jobId"])) is not None and found["status"] == "FAILED"]
    return min(times, default=None)


def mark_failed_dependency(jobs, job: Job) -> Job:
    """A PENDING job with a failed dependency is due to fail at once (the DUE index's
    DEPENDENCY_FAILED group), whatever its other dependencies do."""
    if job["status"] != "PENDING" or is_array_parent(job) or "_stop" in job or "_dependency_failed" in job:
        return job
    failed_at = failed_dependency_at(jobs, job)
    if failed_at is None:
        return job
    marked = {**job, "_dependency_failed": max(job.get("_since", 0), failed_at)}
    jobs[job["jobId"]] = marked
    return marked


def move(jobs, job: Job, status: str, at: int, changes: list, **fields) -> Job:
    """`job` enters `status` at `at` (its `_since`), recorded in `changes`."""
    moved = dict(job)
    for mark in PENDING_MARKS:
        moved.pop(mark, None)
    moved.update(fields, status=status, _since=at)
    jobs[job["jobId"]] = moved
    changes.append({"id": job["jobId"], "from": job["status"], "to": status, "at": at})
    return moved


def recorded_stop(jobs, job: Job, parents: dict | None = None) -> dict | None:
    """The cancel recorded for a not-started job: its own, or its array parent's. `parents`:
    a cache of parent stops for a caller that asks for many children of one parent."""
    if "_stop" in job:
        return job["_stop"]
    parent = parent_id(job)
    if parent is None:
        return None
    if parents is not None and parent in parents:
        return parents[parent]
    found = jobs.get(parent)
    stop = found.get("_stop") if found is not None and found["status"] not in FINISHED else None
    if parents is not None:
        parents[parent] = stop
    return stop


def move_head(jobs, queue: str, now: int, changes: list, region: str | None = None,
              parents: dict | None = None) -> Job | None:
    """The queue's head RUNNABLE job leaves RUNNABLE at `now`: FAILED (`isCancelled`) if a cancel
    is recorded (on it or its array parent), so it never starts, else STARTING. The one
    dispatch of both the lifecycle and the control plane. None when nothing is RUNNABLE."""
    head = head_of_queue(jobs, queue, region)
    if head is None:
        return None
    stop = recorded_stop(jobs, head, parents)
    if stop is not None:
        _fail(jobs, head, stop["reason"], now, "isCancelled")
        changes.append({"id": head["jobId"], "from": "RUNNABLE", "to": "FAILED", "at": now})
    else:
        move(jobs, head, "STARTING", now, changes)
    return jobs.get(head["jobId"])


# --- creating jobs ----------------------------------------------------------------------------

SUBMIT_FIELDS = ("jobName", "jobQueue", "jobDefinition", "shareIdentifier", "parameters",
                 "containerOverrides", "retryStrategy", "propagateTags", "timeout", "tags")


def submit(jobs, request: dict, now: int, job_id: str, arn_of, extra: dict | None = None) -> dict:
    """SubmitJob: a SUBMITTED job (and `size` SUBMITTED children for an array job) with the
    fields of `request` and `extra` (what the job definition adds). Children are stored lean
    (children.py): what they inherit stays on the parent."""
    depends_on = request.get("dependsOn") or []
    for dependency in depends_on:
        if jobs.get(dependency["jobId"]) is None:
            raise ApiError("ClientException", f"dependsOn: job {dependency['jobId']} does not exist")
    job: Job = {k: request[k] for k in SUBMIT_FIELDS if k in request}
    job.update(jobId=job_id, jobArn=arn_of(job_id), status="SUBMITTED", createdAt=now,
               dependsOn=depends_on)
    if "schedulingPriorityOverride" in request:
        job["schedulingPriority"] = request["schedulingPriorityOverride"]
    job.update(extra or {})
    size = (request.get("arrayProperties") or {}).get("size")
    if size:
        job["arrayProperties"] = {"size": size}
    put_job(jobs, job, now, new=True)
    for index, child_id in enumerate(child_ids(job) if size else ()):
        jobs[child_id] = children.lean(job, child_id, index, now)
    return {"jobArn": job["jobArn"], "jobName": job["jobName"], "jobId": job_id}


def put_job(jobs, job: Job, now: int, *, new: bool = False) -> Job:
    """Create or replace a job as given (the control plane; SubmitJob after its checks).

    Keeps the reverse dependency links in step and applies what a finished status implies.
    A job put under an id that other jobs already name in `dependsOn` is found by a scan,
    which `new=True` (a freshly generated id) skips.
    """
    job_id = job["jobId"]
    previous = jobs.get(job_id) or {}
    job = {**job, "_since": now}
    dependents = previous.get("_dependents") or ([] if new else [
        other["jobId"] for other in jobs.values()
        if any(d.get("jobId") == job_id for d in other.get("dependsOn") or ())])
    if dependents:
        job["_dependents"] = dependents
    if "_stop" in previous and job["status"] in NOT_STARTED:
        job["_stop"] = previous["_stop"]
    jobs[job_id] = job
    for dependency in job.get("dependsOn") or ():
        found = jobs.get(dependency["jobId"])
        if found is not None and job_id not in (found.get("_dependents") or ()):
            jobs[found["jobId"]] = {**found, "_dependents": [*(found.get("_dependents") or ()), job_id]}
    settle(jobs, job, now)
    if is_array_parent(job):
        finish_parent_if_done(jobs, job_id, now)
    elif (parent := parent_id(job)) is not None and job["status"] not in FINISHED:
        reopened = jobs.get(parent)   # a child put back to work: its parent is not done after all
        if reopened is not None and "_children_done" in reopened:
            jobs[parent] = {k: v for k, v in reopened.items() if k != "_children_done"}
    mark_failed_dependency(jobs, jobs.get(job_id))
    return jobs.get(job_id)


def link_dependents(jobs: dict[str, Job]) -> dict[str, Job]:
    """Fixtures are written as AWS shows jobs; add the reverse links the rules rely on."""
    linked = {job_id: {k: v for k, v in job.items() if k != "_dependents"}
              for job_id, job in jobs.items()}
    for job_id, job in linked.items():
        for dependency in job.get("dependsOn") or ():
            target = linked.get(dependency["jobId"])
            if target is not None:
                target.setdefault("_dependents", []).append(job_id)
    for job in linked.values():   # a PENDING parent whose children all finished already
        if job.get("status") == "PENDING" and is_array_parent(job) and "_stop" not in job:
            found = [linked.get(child) for child in child_ids(job)]
            if all(c is None or c.get("status") in FINISHED for c in found):
                job["_children_done"] = max([c.get("stoppedAt", 0) for c in found if c is not None], default=0)
    return linked


# --- reading jobs -----------------------------------------------------------------------------

def public(jobs, job: Job) -> Job:
    """A job as DescribeJobs shows it: no bookkeeping; array parents summarise their children,
    which show what they inherit from their parent (children.view)."""
    shown = {k: v for k, v in children.view(jobs, job).items() if not k.startswith("_")}
    if is_array_parent(job):
        summary = {status: n for status in indexes.STATUSES
                   if (n := indexes.children_in(jobs, job["jobId"], status))}
        shown["arrayProperties"] = {**job["arrayProperties"], "statusSummary": summary}
    return shown


SUMMARY_FIELDS = ("jobArn", "jobId", "jobName", "createdAt", "status", "statusReason",
                  "startedAt", "stoppedAt", "jobDefinition", "isCancelled", "isTerminated")


def summary(job: Job) -> Job:
    shown = {k: job[k] for k in SUMMARY_FIELDS if k in job}
    props = job.get("arrayProperties")
    if props:
        shown["arrayProperties"] = {k: props[k] for k in ("size", "index") if k in props}
    return shown


def _matches(job: Job, name: str, values: list[str]) -> bool:
    value = values[0] if values else ""
    if name == "JOB_NAME":
        if value.endswith("*"):
            return job["jobName"].lower().startswith(value[:-1].lower())
        return job["jobName"].lower() == value.lower()
    if name == "JOB_DEFINITION":
        # name:revision as stored; a value may be a name, name:revision or an ARN
        definition = job.get("jobDefinition", "")
        value = value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
        if value.endswith("*"):
            return definition.startswith(value[:-1])
        return definition == value or definition.split(":")[0] == value
    if name == "BEFORE_CREATED_AT":
        return job.get("createdAt", 0) < int(value)
    if name == "AFTER_CREATED_AT":
        return job.get("createdAt", 0) > int(value)
    return job.get("shareIdentifier") == value  # SHARE_IDENTIFIER


def list_jobs(jobs, request: dict, region: str | None = None) -> dict:
    """ListJobs by queue or array parent, newest first, one page at a time (`region`: only
    that region's jobs). By queue, the LISTED index gives the order: a page reads the jobs up
    to its end, not the queue."""
    filters = request.get("filters") or []
    status = None if filters else request.get("jobStatus", "RUNNING")
    start = paging.decode(request.get("nextToken"), "ClientException")
    size = request.get("maxResults", 1000)
    if "arrayJobId" in request:
        parent = jobs.get(request["arrayJobId"])
        found = [job for c in child_ids(parent) if (job := jobs.get(c)) is not None] \
            if parent and is_array_parent(parent) else []
        keys = [job["jobId"] for job in sorted(found, key=lambda job: (-job.get("createdAt", 0), job["jobId"]))]
    elif "multiNodeJobId" in request:
        keys = []  # multi-node jobs are not emulated
    else:
        keys = indexes.in_queue(jobs, request["jobQueue"], region, [status] if status else indexes.STATUSES)
    selected: list[Job] = []
    for key in keys:
        job = jobs.get(key)
        if job is None or (status is not None and job["status"] != status):
            continue
        # a child's summary fields are its own; filters may read an inherited one
        if filters and not all(_matches(children.view(jobs, job), f["name"], f.get("values") or [])
                               for f in filters):
            continue
        selected.append(job)
        if len(selected) > start + size:
            break
    answer: dict = {"jobSummaryList": [summary(children.view(jobs, job)) for job in selected[start:start + size]]}
    if len(selected) > start + size:
        answer["nextToken"] = paging.encode(start + size)
    return answer
