"""Veeva Vault job instances (seed 004 and issue 16): cancel, start, status, monitors, histories.

Tables: `jobs` by job id (as a string key; the id itself is an integer), `job_index` by vault id:
{"open": [ids not finished], "done": [ids finished]}, kept by every move, so Retrieve Job
Monitors and Histories read one vault's ids and never scan every job. An index missing for a
vault (after a reset or fixture load) is built once from the jobs on first use. A session belongs
to one vault and sees only that vault's jobs. Times are epoch ms; `_since` is when a job entered
its status (shown as `modified_date`). Sessions are in sessions.py, rate limits in limits.py.
"""
from __future__ import annotations

from cancelgate.clock import iso_ms as iso
from cancelgate.errors import ApiError

CANCELLABLE = ("SCHEDULED", "QUEUED", "QUEUEING")
FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY",
            "MISSED_SCHEDULE")


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")
    return int(major), int(minor)


# --- jobs -----------------------------------------------------------------------------------

def _not_cancellable(job_id: int) -> dict:
    return {"responseStatus": "FAILURE",
            "errors": {"type": "INVALID_DATA", "message": f"Job [{job_id}] is not found in QUEUED or QUEUEING state"}}


def cancel(jobs, vault_id: int, job_ids: list[int], now: int, user_id: int | None = None) -> list[dict]:
    """Cancel Job: one result per id, in request order. Accepted jobs move to CANCELLING (still
    unfinished, so the index does not change)."""
    results = []
    for job_id in job_ids:
        job = jobs.get(str(job_id))
        if job is None or job["vault_id"] != vault_id or job["status"] not in CANCELLABLE:
            results.append(_not_cancellable(job_id))
            continue
        jobs[str(job_id)] = {**job, "status": "CANCELLING", "_since": now,
                             **({"modified_by": user_id} if user_id is not None else {})}
        results.append({"responseStatus": "SUCCESS", "data": {"id": job_id}})
    return results


def start_now(jobs, vault_id: int, job_id: int, now: int, user_id: int) -> dict:
    """Start Job: a SCHEDULED job is queued now instead of at its scheduled time."""
    job = job_of(jobs, vault_id, job_id)
    if job["status"] != "SCHEDULED":
        raise ApiError("INVALID_DATA", f"Job [{job_id}] is not found in SCHEDULED state")
    moved = {**job, "status": "QUEUED", "_since": now, "modified_by": user_id}
    jobs[str(job_id)] = moved
    return moved


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
    if "progress" in job:
        shown["progress"] = job["progress"]
    return shown


# --- the per-vault index and the lists ------------------------------------------------------

def _index_of(index, jobs, vault_id: int) -> dict:
    doc = index.get(str(vault_id))
    if doc is None:  # first use since a reset: built once from the jobs
        mine = sorted(job["id"] for job in jobs.values() if job["vault_id"] == vault_id)
        done = {job_id for job_id in mine if jobs.get(str(job_id))["status"] in FINISHED}
        doc = {"open": [i for i in mine if i not in done], "done": [i for i in mine if i in done]}
        index[str(vault_id)] = doc
    return doc


def index_move(index, before: dict | None, after: dict | None) -> None:
    """Keep the index of an already indexed vault right after a job was put, moved or removed."""
    for job, present in ((before, False), (after, True)):
        if job is None:
            continue
        doc = index.get(str(job["vault_id"]))
        if doc is None:
            continue
        side = "done" if job["status"] in FINISHED else "open"
        ids = [i for i in doc[side] if i != job["id"]]
        if present:
            ids = sorted([*ids, job["id"]])
        index[str(job["vault_id"])] = {**doc, side: ids}


def listed(job: dict, lowercase: bool = False) -> dict:
    """A job as Retrieve Job Monitors (status as Retrieve Job Status shows it) and Histories
    (status in the lowercase of its filter values: `cancelled`) show it."""
    shown = {"job_id": job["id"], "title": job.get("title", ""),
             "status": job["status"].lower() if lowercase else job["status"],
             "created_by": job["created_by"], "created_date": iso(job["created_date"]),
             "modified_by": job.get("modified_by", job["created_by"]),
             "modified_date": iso(job.get("_since", job["created_date"]))}
    for field in ("run_start_date", "run_end_date"):
        if field in job:
            shown[field] = iso(job[field])
    return shown


def monitors(jobs, index, vault_id: int, filters: dict) -> list[dict]:
    """Unfinished jobs (a CANCELLING job stays until CANCELLED), oldest id first. Filters (each
    optional): status (lowercase), title, object_name, object_record_id, start/end (epoch ms,
    on created_date)."""
    found = []
    for job_id in _index_of(index, jobs, vault_id)["open"]:
        job = jobs.get(str(job_id))
        if job is None or job["status"] in FINISHED:
            continue
        if _matches(job, filters, job["created_date"]):
            found.append(job)
    return found


def histories(jobs, index, vault_id: int, filters: dict) -> list[dict]:
    """Finished jobs, oldest id first; start/end filter on when the job finished."""
    found = []
    for job_id in _index_of(index, jobs, vault_id)["done"]:
        job = jobs.get(str(job_id))
        if job is None or job["status"] not in FINISHED:
            continue
        if _matches(job, filters, job.get("run_end_date", job.get("_since", job["created_date"]))):
            found.append(job)
    return found


def _matches(job: dict, filters: dict, at: int) -> bool:
    if "status" in filters and job["status"].lower() != filters["status"]:
        return False
    for field in ("title", "object_name", "object_record_id"):
        if field in filters and job.get(field) != filters[field]:
            return False
    if "start" in filters and at < filters["start"]:
        return False
    return "end" not in filters or at <= filters["end"]
