"""The device's rules over the IoT tables (see cancelgate.families.iot.rules for their shape):
take the next pending execution, report progress or an outcome, read an execution.

An execution a device touches here gets `_device: true`: the simulated lifecycle leaves it to
the device from then on (families/iot/lifecycle.py).
"""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.iot.rules import abort_if_due, execution_key, in_progress_deadline, retried

PENDING = ("QUEUED", "IN_PROGRESS")
DEVICE_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")
NEXT = "$next"


def wire_seconds(ms: int) -> int:
    """The data plane's timestamps are whole epoch seconds (the model's `long`)."""
    return ms // 1000


def touched(execution: dict) -> dict:
    """The execution, now driven by the device alone (a `_waits` mark of simulate: false is
    superseded: turning simulation back on does not take it from the device)."""
    return {**{k: v for k, v in execution.items() if k != "_waits"}, "_device": True}


def _thing(things, thing_name: str) -> dict:
    thing = things.get(thing_name)
    if thing is None:
        raise ApiError("ResourceNotFoundException", f"Thing {thing_name} not found")
    return thing


def _execution(executions, thing_name: str, job_id: str, execution_number: int | None) -> tuple[str, dict]:
    key = execution_key(thing_name, job_id)
    execution = executions.get(key)
    if execution is None or execution_number not in (None, execution["executionNumber"]):
        raise ApiError("ResourceNotFoundException",
                       f"Job execution of job {job_id} on thing {thing_name} not found")
    return key, execution


def pending(things, executions, thing_name: str) -> list[dict]:
    """The thing's QUEUED and IN_PROGRESS executions, IN_PROGRESS first, then oldest first."""
    thing = _thing(things, thing_name)
    found = [executions.get(execution_key(thing_name, job)) for job in thing.get("_jobs", [])]
    live = [e for e in found if e is not None and e["status"] in PENDING]
    return sorted(live, key=lambda e: (e["status"] != "IN_PROGRESS", e.get("queuedAt", 0), e["jobId"]))


def execution_state(execution: dict) -> dict:
    return {"status": execution["status"], "statusDetails": dict(execution.get("statusDetails") or {}),
            "versionNumber": execution["versionNumber"]}


def summary(execution: dict) -> dict:
    shown = {"jobId": execution["jobId"], "queuedAt": wire_seconds(execution["queuedAt"]),
             "lastUpdatedAt": wire_seconds(execution["lastUpdatedAt"]),
             "versionNumber": execution["versionNumber"], "executionNumber": execution["executionNumber"]}
    if "startedAt" in execution:
        shown["startedAt"] = wire_seconds(execution["startedAt"])
    return shown


def execution_view(execution: dict, job: dict | None, now: int, include_document: bool) -> dict:
    shown = {**summary(execution), "thingName": execution["thingName"], "status": execution["status"],
             "statusDetails": dict(execution.get("statusDetails") or {})}
    deadline = in_progress_deadline(execution)
    if deadline is not None:
        shown["approximateSecondsBeforeTimedOut"] = max(0, (deadline - now) // 1000)
    if include_document and job is not None and "document" in job:
        shown["jobDocument"] = job["document"]
    return shown


def get_pending(things, executions, thing_name: str) -> dict:
    live = pending(things, executions, thing_name)
    return {"inProgressJobs": [summary(e) for e in live if e["status"] == "IN_PROGRESS"],
            "queuedJobs": [summary(e) for e in live if e["status"] == "QUEUED"]}


def describe(things, jobs, executions, thing_name: str, job_id: str, execution_number: int | None,
             include_document: bool, now: int) -> dict:
    if job_id == NEXT:
        live = pending(things, executions, thing_name)
        if not live:
            raise ApiError("ResourceNotFoundException", f"Thing {thing_name} has no pending job execution")
        execution = live[0]
    else:
        _thing(things, thing_name)
        _, execution = _execution(executions, thing_name, job_id, execution_number)
    return execution_view(execution, jobs.get(execution["jobId"]), now, include_document)


def _step_deadline(now: int, minutes: int | None) -> dict:
    return {} if minutes is None else {"stepTimeoutInMinutes": minutes, "_stepDeadline": now + minutes * 60_000}


def start_next(things, jobs, executions, thing_name: str, status_details: dict | None,
               step_timeout: int | None, now: int) -> dict:
    """The IN_PROGRESS execution as it is, else the oldest QUEUED one moved to IN_PROGRESS;
    `{}` when nothing is pending."""
    live = pending(things, executions, thing_name)
    if not live:
        return {}
    execution = live[0]
    if execution["status"] == "QUEUED":
        execution = {**touched(execution), "status": "IN_PROGRESS", "startedAt": now, "lastUpdatedAt": now,
                     "_since": now, "versionNumber": execution["versionNumber"] + 1,
                     **_step_deadline(now, step_timeout)}
        if status_details is not None:
            execution["statusDetails"] = dict(status_details)
        executions[execution_key(thing_name, execution["jobId"])] = execution
    elif not execution.get("_device") or execution.get("_waits"):
        execution = touched(execution)
        executions[execution_key(thing_name, execution["jobId"])] = execution
    return {"execution": execution_view(execution, jobs.get(execution["jobId"]), now, True)}


def _refused(execution: dict, message: str) -> ApiError:
    return ApiError("InvalidStateTransitionException", message,
                    extra={"executionState": execution_state(execution)})


def update(things, jobs, executions, thing_name: str, job_id: str, request: dict, now: int) -> dict:
    """UpdateJobExecution: QUEUED or IN_PROGRESS -> a status a device may report."""
    _thing(things, thing_name)
    key, execution = _execution(executions, thing_name, job_id, request.get("executionNumber"))
    status = request["status"]
    expected = request.get("expectedVersion")
    if expected is not None and expected != execution["versionNumber"]:
        raise _refused(execution, f"VersionMismatch: expectedVersion {expected} is not the current version "
                                  f"{execution['versionNumber']} of the job execution")
    if execution["status"] not in PENDING or status not in DEVICE_STATUSES:
        raise _refused(execution, f"Job execution is {execution['status']} and cannot be updated to {status}")
    updated = {**touched(execution), "status": status, "lastUpdatedAt": now,
               "versionNumber": execution["versionNumber"] + 1}
    if status != execution["status"]:
        updated["_since"] = now
    if "startedAt" not in updated:
        updated["startedAt"] = now
    if request.get("statusDetails") is not None:
        updated["statusDetails"] = dict(request["statusDetails"])
    if status == "IN_PROGRESS":
        updated.update(_step_deadline(now, request.get("stepTimeoutInMinutes")))
    else:
        updated.pop("_stepDeadline", None)
    executions[key] = retried(updated, now) or updated  # FAILED with a retry left: QUEUED again
    if status in ("FAILED", "REJECTED"):
        abort_if_due(jobs, executions, job_id, now)
    answer = {}
    if request.get("includeJobExecutionState"):
        answer["executionState"] = execution_state(updated)
    job = jobs.get(job_id)
    if request.get("includeJobDocument") and job is not None and "document" in job:
        answer["jobDocument"] = job["document"]
    return answer
