"""How an attempt ends: the container's exit code decides, with the job's retryStrategy.

AWS Batch: exit code 0 is SUCCEEDED; any other fails the attempt, and the job goes back to
RUNNABLE for another attempt while `retryStrategy.attempts` (default 1) allows and the first
`evaluateOnExit` rule matching the attempt says RETRY (no rule matching: retry). A rule matches
when every condition it names matches: `onExitCode`, `onStatusReason`, `onReason` are globs
where only a trailing `*` is special (AWS's pattern language).
"""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.batch import children
from cancelgate.families.batch.rules import Job, end_attempt, move, settle

EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
TIMEOUT_EXIT_CODE = 137   # the container is killed (SIGKILL)


def glob(pattern: str, value: str) -> bool:
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


def decision(job: Job, exit_code: int, status_reason: str, reason: str) -> str:
    """RETRY or EXIT for a failed attempt of `job`."""
    strategy = job.get("retryStrategy") or {}
    if len(job.get("attempts") or ()) >= strategy.get("attempts", 1):
        return "EXIT"
    for rule in strategy.get("evaluateOnExit") or ():
        conditions = (("onExitCode", str(exit_code)), ("onStatusReason", status_reason), ("onReason", reason))
        if all(glob(rule[name], value) for name, value in conditions if name in rule):
            return rule["action"].upper()
    return "RETRY"


def end(jobs, job: Job, now: int, exit_code: int, reason: str | None, changes: list,
        status_reason: str = EXITED) -> Job:
    """The RUNNING attempt of `job` ends with `exit_code` at `now`."""
    container_reason = reason or ""
    ended = end_attempt(job, now, exit_code, status_reason)
    if container_reason:
        ended["attempts"][-1]["container"]["reason"] = container_reason
    ended["container"] = {**(job.get("container") or {}), "exitCode": exit_code,
                          **({"reason": container_reason} if container_reason else {})}
    if exit_code == 0:
        done = move(jobs, {k: v for k, v in ended.items() if k != "statusReason"}, "SUCCEEDED", now, changes,
                    stoppedAt=now)
    elif decision(children.view(jobs, ended), exit_code, status_reason, container_reason) == "RETRY":
        again = {k: v for k, v in ended.items() if k not in ("startedAt", "statusReason")}
        again["container"] = {k: v for k, v in again["container"].items() if k not in ("exitCode", "reason")}
        return move(jobs, again, "RUNNABLE", now, changes)
    else:
        done = move(jobs, ended, "FAILED", now, changes, stoppedAt=now, statusReason=status_reason)
    settle(jobs, done, now)
    return jobs.get(job["jobId"])


def exit_running(jobs, job_id: str, exit_code: int, reason: str | None, now: int) -> Job:
    """The control plane: the container of a RUNNING job exits with `exit_code`."""
    job = jobs.get(job_id)
    if job is None:
        raise ApiError("Not Found", f"no Batch job {job_id}", 404)
    if job["status"] != "RUNNING":
        raise ApiError("Conflict", f"job {job_id} is {job['status']}: only a RUNNING attempt can exit", 409)
    return end(jobs, job, now, exit_code, reason, [])


def timeout_at(job: Job) -> int | None:
    """When a RUNNING attempt runs out of `timeout.attemptDurationSeconds`."""
    seconds = (job.get("timeout") or {}).get("attemptDurationSeconds")
    if seconds is None or "startedAt" not in job:
        return None
    return job["startedAt"] + seconds * 1000
