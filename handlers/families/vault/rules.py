"""Veeva Vault state: users, sessions and job instances (seed 004).

Tables: `users` by user name, `vaults` by vault id, `sessions` by session id, `jobs` by job id
(as a string key; the id itself is an integer). A session belongs to one vault and sees only
that vault's jobs. Times are epoch ms; `_since` is when a job entered its status, `lastUsed`
when a session last served a call.
"""
from __future__ import annotations

import hmac

from cancelgate.clock import iso_ms as iso
from cancelgate.errors import ApiError

CANCELLABLE = ("SCHEDULED", "QUEUED", "QUEUEING")
FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY",
            "MISSED_SCHEDULE")
FIRST_CANCEL_VERSION = (25, 3)


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")
    return int(major), int(minor)


# --- sessions -------------------------------------------------------------------------------

def authenticate(users, sessions, username: str, password: str, now: int, session_id: str) -> dict:
    """A new session for a user whose password matches; the same answer for any other mismatch."""
    user = users.get(username)
    expected = (user or {}).get("password", "")
    if user is None or not hmac.compare_digest(expected.encode(), password.encode()):
        raise ApiError("USERNAME_OR_PASSWORD_INCORRECT", "Authentication failed for user: " + username,
                       extra={"errorType": "AUTHENTICATION_FAILED"})
    session = {"sessionId": session_id, "username": username, "userId": user["userId"],
               "vaultId": user["vaultId"], "created": now, "lastUsed": now}
    sessions[session_id] = session
    return session


def use_session(sessions, session_id: str, now: int, idle_ms: int) -> dict | None:
    """The live session with this id, its idle clock restarted; None if unknown, ended or idle."""
    session = sessions.get(session_id)
    if session is None:
        return None
    if now - session["lastUsed"] > idle_ms:
        sessions.pop(session_id)
        return None
    touched = {**session, "lastUsed": now}
    sessions[session_id] = touched
    return touched


def end_session(sessions, session_id: str) -> None:
    sessions.pop(session_id)


# --- jobs -----------------------------------------------------------------------------------

def _not_cancellable(job_id: int) -> dict:
    return {"responseStatus": "FAILURE",
            "errors": {"type": "INVALID_DATA", "message": f"Job [{job_id}] is not found in QUEUED or QUEUEING state"}}


def cancel(jobs, vault_id: int, job_ids: list[int], now: int) -> list[dict]:
    """Cancel Job: one result per id, in request order. Accepted jobs move to CANCELLING."""
    results = []
    for job_id in job_ids:
        job = jobs.get(str(job_id))
        if job is None or job["vault_id"] != vault_id or job["status"] not in CANCELLABLE:
            results.append(_not_cancellable(job_id))
            continue
        jobs[str(job_id)] = {**job, "status": "CANCELLING", "_since": now}
        results.append({"responseStatus": "SUCCESS", "data": {"id": job_id}})
    return results


def job_of(jobs, vault_id: int, job_id: int) -> dict:
    job = jobs.get(str(job_id))
    if job is None or job["vault_id"] != vault_id:
        raise ApiError("INVALID_DATA", f"Job [{job_id}] not found")
    return job


def job_view(job: dict, version: str) -> dict:
    shown = {"id": job["id"], "status": job["status"], "method": job.get("method", "POST"),
             "links": [{"rel": "self", "href": f"/api/{version}/services/jobs/{job['id']}",
                        "method": "GET", "accept": "application/json"}],
             "created_by": job["created_by"], "created_date": iso(job["created_date"])}
    if "title" in job:
        shown["title"] = job["title"]
    for field in ("run_start_date", "run_end_date"):
        if field in job:
            shown[field] = iso(job[field])
    return shown
