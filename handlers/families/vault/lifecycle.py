"""How Vault's documents move on the clock: job instances through their timed statuses (by the
durations of the lifecycle file, each status followed by the one `next` names), and sessions
ending when their expiry time in the session index comes (sessions.py). The lifecycle section
also holds the rate limits (limits.py) and the session limits the operations apply.

Default chain: SCHEDULED -> QUEUED -> RUNNING -> SUCCESS, and CANCELLING -> CANCELLED. `next`
reroutes it within what Vault documents: a SCHEDULED job may be missed (MISSED_SCHEDULE) or go
through QUEUEING, a RUNNING one may end in SUCCESS, ERRORS_ENCOUNTERED, TIMEOUT or
COMPLETED_DUE_TO_INACTIVITY. A job's own `outcome` field (fixtures, control plane) overrides
where its RUNNING ends.
"""
from __future__ import annotations

from cancelgate.families import durations
from cancelgate.families.vault import sessions
from cancelgate.families.vault.rules import FINISHED, index_move

NEXT = {"SCHEDULED": "QUEUED", "QUEUEING": "QUEUED", "QUEUED": "RUNNING", "RUNNING": "SUCCESS",
        "CANCELLING": "CANCELLED"}
ENDINGS = ["SUCCESS", "ERRORS_ENCOUNTERED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"]
ALLOWED_NEXT = {"SCHEDULED": ["QUEUED", "QUEUEING", "MISSED_SCHEDULE"], "QUEUEING": ["QUEUED", "RUNNING"],
                "QUEUED": ["RUNNING"], "RUNNING": ENDINGS, "CANCELLING": ["CANCELLED"]}

# The defaults data/lifecycle.yaml also gives (with --no-lifecycle: these sessions, no rate limits).
DEFAULT_LIMITS = {"enabled": True, "burst": 2000, "burst_window": 300, "daily": 100000, "job_status_interval": 10}
DEFAULT_SESSIONS = {"max_age": 172800, "per_user": 100}

_seconds = {"type": "number", "minimum": 0}
CONFIG_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["durations"],
    "properties": {
        "durations": {"type": "object", "additionalProperties": False,
                      "properties": {s: _seconds for s in NEXT}},
        "next": {"type": "object", "additionalProperties": False,
                 "properties": {s: {"enum": targets} for s, targets in ALLOWED_NEXT.items()}},
        "limits": {"type": "object", "additionalProperties": False,
                   "properties": {"enabled": {"type": "boolean"},
                                  "burst": {"type": "integer", "minimum": 1},
                                  "burst_window": {"type": "number", "exclusiveMinimum": 0},
                                  "daily": {"type": "integer", "minimum": 1},
                                  "job_status_interval": _seconds}},
        "sessions": {"type": "object", "additionalProperties": False,
                     "properties": {"max_age": {"type": "number", "exclusiveMinimum": 0},
                                    "per_user": {"type": "integer", "minimum": 1}}},
    },
}


def limits_of(config: dict | None) -> dict:
    """The rate limits in force: the lifecycle file's; none without one (--no-lifecycle)."""
    if config is None:
        return {**DEFAULT_LIMITS, "enabled": False}
    return {**DEFAULT_LIMITS, **(config.get("limits") or {})}


def sessions_of(config: dict | None) -> dict:
    return {**DEFAULT_SESSIONS, **((config or {}).get("sessions") or {})}


def _follower(config: dict):
    chain = {**NEXT, **(config.get("next") or {})}

    def follow(job: dict) -> str | None:
        if job["status"] == "RUNNING" and job.get("outcome") in ENDINGS:
            return job["outcome"]
        return chain.get(job["status"])
    return follow


def _moved(job: dict, status: str, at: int) -> dict:
    moved = dict(job)
    if status == "RUNNING":
        moved["run_start_date"] = at
    if status in FINISHED and status != "MISSED_SCHEDULE":
        moved.setdefault("run_start_date", job.get("_since", at))  # a cancelled job: since CANCELLING
        moved["run_end_date"] = at
    return moved


# the store keeps the jobs in timed statuses ordered by when they entered them
INDEXES = (durations.index(NEXT),)
unseen = durations.unseen(INDEXES[0])


def lifecycle_next(tables, config: dict) -> int | None:
    times = [durations.next_due(tables["jobs"], config["durations"]), sessions.next_due(tables["expiry"])]
    return min((t for t in times if t is not None), default=None)


def lifecycle_step(tables, now: int, config: dict, budget: int = 1000) -> list[dict]:
    jobs, index = tables["jobs"], tables["index"]
    changes = durations.step(jobs, now, config["durations"], name="vault_jobs", key=lambda job: str(job["id"]),
                             order=lambda job: (job["id"],), follow=_follower(config), moved=_moved,
                             budget=budget)
    for change in changes:
        if (change["from"] in FINISHED) != (change["to"] in FINISHED):
            job = jobs.get(change["id"])
            index_move(index, {**job, "status": change["from"]}, job)
    sessions.expire_due(tables["sessions"], tables["user_sessions"], tables["expiry"], now)
    return changes
