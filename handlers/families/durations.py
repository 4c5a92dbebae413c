"""Moving documents through timed statuses: the lifecycle shape IoT executions and Vault jobs
share. A document whose status has a duration moves on once it has spent that long in it
(`_since` is when it entered); one that has no `_since` yet (put in from outside) starts its
clock when first seen."""
from __future__ import annotations

from typing import Callable

Follow = Callable[[dict], "str | None"]      # the status after this document's, or None
Moved = Callable[[dict, str, int], dict]     # the document having entered `status` at `at`


def due(doc: dict, durations: dict, follow: Follow) -> int | None:
    if "_since" not in doc or doc["status"] not in durations or follow(doc) is None:
        return None
    return doc["_since"] + int(durations[doc["status"]] * 1000)


def next_due(table, durations: dict, follow: Follow) -> int | None:
    """The earliest time some document of `table` moves (None: none will)."""
    return min((at for doc in table.values() if (at := due(doc, durations, follow)) is not None),
               default=None)


def step(table, now: int, durations: dict, *, key: Callable[[dict], str], order: Callable[[dict], tuple],
         follow: Follow, moved: Moved) -> list[dict]:
    """Apply every move due by `now`, each document through as many statuses as have passed;
    the transitions in the order applied."""
    changes = []
    for doc in sorted(table.values(), key=order):
        if doc["status"] not in durations or follow(doc) is None:
            continue
        if "_since" not in doc:
            table[key(doc)] = {**doc, "_since": now}
            continue
        current = doc
        while (at := due(current, durations, follow)) is not None and at <= now:
            status = follow(current)
            changes.append({"id": key(doc), "from": current["status"], "to": status, "at": at})
            current = {**moved(current, status, at), "status": status, "_since": at}
        if current is not doc:
            table[key(doc)] = current
    return changes
