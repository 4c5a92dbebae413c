"""Vault job instances moving by themselves: SCHEDULED -> QUEUED -> RUNNING -> SUCCESS, and
CANCELLING -> CANCELLED, by the durations of the lifecycle file."""
from __future__ import annotations

from cancelgate.families import durations
from cancelgate.families.vault.rules import FINISHED

NEXT = {"SCHEDULED": "QUEUED", "QUEUED": "RUNNING", "QUEUEING": "RUNNING", "RUNNING": "SUCCESS",
        "CANCELLING": "CANCELLED"}

CONFIG_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["durations"],
    "properties": {
        "durations": {"type": "object", "additionalProperties": False,
                      "properties": {s: {"type": "number", "minimum": 0} for s in NEXT}},
    },
}


def _follow(job: dict) -> str | None:
    return NEXT.get(job["status"])


def _moved(job: dict, status: str, at: int) -> dict:
    moved = dict(job)
    if status == "RUNNING":
        moved["run_start_date"] = at
    if status in FINISHED:
        moved["run_end_date"] = at
    return moved


def lifecycle_next(jobs, config: dict) -> int | None:
    return durations.next_due(jobs, config["durations"], _follow)


def lifecycle_step(jobs, now: int, config: dict) -> list[dict]:
    return durations.step(jobs, now, config["durations"], key=lambda job: str(job["id"]),
                          order=lambda job: (job["id"],), follow=_follow, moved=_moved)
