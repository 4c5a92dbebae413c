"""IoT job executions moving by themselves, as a simulated device would move them:
QUEUED -> IN_PROGRESS -> an outcome (SUCCEEDED, or FAILED / TIMED_OUT / REJECTED by the
configured shares), each step bumping versionNumber like a device's update does. Also what AWS
does on the clock whoever drives the execution: an IN_PROGRESS execution past its job's
`timeoutConfig` or its device's step timer is TIMED_OUT, and a FAILED or TIMED_OUT one is
retried as its job's `jobExecutionsRetryConfig` allows."""
from __future__ import annotations

import fnmatch
import hashlib

from cancelgate.families import durations
from cancelgate.families.family import Index
from cancelgate.families.iot.rules import execution_key, in_progress_deadline, retried, timed_out
from cancelgate.families.poison import QUARANTINED, blamed
from cancelgate.store.indexes import first_number, num

TABLE = "iot_executions"
DEADLINE = "deadline"

STATUSES = ("QUEUED", "IN_PROGRESS")
OUTCOMES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED")

CONFIG_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["durations", "outcomes"],
    "properties": {
        "durations": {"type": "object", "additionalProperties": False,
                      "properties": {s: {"type": "number", "minimum": 0} for s in STATUSES}},
        "outcomes": {"type": "object", "additionalProperties": False, "minProperties": 1,
                     "properties": {s: {"type": "number", "minimum": 0, "maximum": 1} for s in OUTCOMES}},
        # thing-name patterns (fnmatch: `sensor-*`) whose executions wait for a real device
        "waitForDevice": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}},
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
    patterns = config.get("waitForDevice", [])

    def follow(execution: dict) -> str | None:
        if execution.get("_device") or any(fnmatch.fnmatchcase(execution["thingName"], p) for p in patterns):
            return None  # a real device drives it (it touched it, its thing or the lifecycle file says so)
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


def _key(execution: dict) -> str:
    return execution_key(execution["thingName"], execution["jobId"])


def _deadline(execution: dict):
    if QUARANTINED in execution or execution.get("status") != "IN_PROGRESS":
        return None
    try:
        key = num(in_progress_deadline(execution))
    except (KeyError, TypeError):
        return None
    return None if key is None else ("", key)


# What the store keeps for the executions: the simulated device's clock (executions a real
# device touched, `_device`, are its own), and the in-progress deadlines AWS enforces.
INDEXES = (durations.index(STATUSES, exclude=lambda e: bool(e.get("_device"))), Index(DEADLINE, _deadline))
unseen = durations.unseen(INDEXES[0])


def lifecycle_next(executions, config: dict) -> int | None:
    times = (durations.next_due(executions, config["durations"]), first_number(executions, DEADLINE, ""))
    return min((t for t in times if t is not None), default=None)


def _time_out(executions, now: int, config: dict, budget: int) -> list[dict]:
    """IN_PROGRESS past its timeout -> TIMED_OUT, unless the simulated device finished first."""
    follow, changes = _follow(config), []
    due = [e for k in executions.ordered(DEADLINE, "", num(now), budget) if (e := executions.get(k)) is not None]
    for execution in sorted(due, key=_key):
        with blamed(TABLE, _key(execution)):
            deadline = in_progress_deadline(execution)
            if deadline is None or deadline > now:
                continue
            simulated = durations.due(execution, config["durations"], follow)
            if simulated is not None and simulated <= deadline:
                continue
            executions[_key(execution)] = timed_out(execution, deadline)
            changes.append({"id": _key(execution), "from": "IN_PROGRESS", "to": "TIMED_OUT", "at": deadline})
    return changes


def _retry(executions, changes: list[dict]) -> list[dict]:
    """Executions that ended FAILED or TIMED_OUT in `changes` and have a retry left: QUEUED again."""
    again = []
    for key in dict.fromkeys(c["id"] for c in changes if c["to"] in ("FAILED", "TIMED_OUT")):
        execution = executions.get(key)
        retry = retried(execution, execution["lastUpdatedAt"]) if execution is not None else None
        if retry is not None:
            executions[key] = retry
            again.append({"id": key, "from": execution["status"], "to": "QUEUED", "at": retry["queuedAt"]})
    return again


def lifecycle_step(executions, now: int, config: dict, budget: int = 1000) -> list[dict]:
    changes = _time_out(executions, now, config, budget)
    changes += durations.step(
        executions, now, config["durations"], name=TABLE, key=_key,
        order=lambda e: (e.get("queuedAt", 0), e["thingName"], e["jobId"]),
        follow=_follow(config), moved=_moved, budget=max(budget - len(changes), 1))
    return changes + _retry(executions, changes)
