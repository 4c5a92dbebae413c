"""IoT job executions moving by themselves, as a simulated device would move them:
QUEUED -> IN_PROGRESS -> an outcome (SUCCEEDED, or FAILED / TIMED_OUT / REJECTED by the
configured shares), each step bumping versionNumber like a device's update does."""
from __future__ import annotations

import hashlib

from cancelgate.families import durations
from cancelgate.families.iot.rules import execution_key

STATUSES = ("QUEUED", "IN_PROGRESS")
OUTCOMES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED")

CONFIG_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["durations", "outcomes"],
    "properties": {
        "durations": {"type": "object", "additionalProperties": False,
                      "properties": {s: {"type": "number", "minimum": 0} for s in STATUSES}},
        "outcomes": {"type": "object", "additionalProperties": False, "minProperties": 1,
                     "properties": {s: {"type": "number", "minimum": 0, "maximum": 1} for s in OUTCOMES}},
    },
}


def outcome(execution: dict, shares: dict) -> str:
    """Where an IN_PROGRESS execution ends, picked by a hash of thing and job: always the same."""
    digest = hashlib.sha256(f"{execution['thingName']}/{execution['jobId']}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(shares.values()) or 1
    for status, share in sorted(shares.items()):
        point -= share / total
        if point < 0:
            return status
    return "SUCCEEDED"


def _follow(config: dict):
    def follow(execution: dict) -> str | None:
        if execution.get("_device"):
            return None  # a real device drives it (it touched it, or its thing says simulate: false)
        if execution["status"] == "QUEUED":
            return "IN_PROGRESS"
        if execution["status"] == "IN_PROGRESS":
            return outcome(execution, config["outcomes"])
        return None
    return follow


def _moved(execution: dict, status: str, at: int) -> dict:
    moved = {**execution, "lastUpdatedAt": at, "versionNumber": execution["versionNumber"] + 1}
    if status == "IN_PROGRESS":
        moved["startedAt"] = at
    return moved


def lifecycle_next(executions, config: dict) -> int | None:
    return durations.next_due(executions, config["durations"], _follow(config))


def lifecycle_step(executions, now: int, config: dict) -> list[dict]:
    return durations.step(
        executions, now, config["durations"],
        key=lambda e: execution_key(e["thingName"], e["jobId"]),
        order=lambda e: (e.get("queuedAt", 0), e["thingName"], e["jobId"]),
        follow=_follow(config), moved=_moved)
