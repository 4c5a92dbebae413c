"""Moving documents through timed statuses: the lifecycle shape IoT executions and Vault jobs
share. A document whose status has a duration moves on once it has spent that long in it
(`_since` is when it entered); one that has no `_since` yet (put in from outside) starts its
clock when first seen.

The TIMED index (`index()`) groups such documents by status, ordered by `_since`, so a step
reads only what is due. A document the lifecycle file leaves to someone else (no status
follows its own) is parked (`_parked`: the status it was found in) and left out until its
status changes.
"""
from __future__ import annotations

from typing import Callable

from cancelgate.families.family import Index
from cancelgate.families.poison import QUARANTINED, blamed
from cancelgate.store.indexes import first_number, num

Follow = Callable[[dict], "str | None"]      # the status after this document's, or None
Moved = Callable[[dict, str, int], dict]     # the document having entered `status` at `at`

TIMED, UNSEEN = "timed", "_unseen"


def index(statuses, exclude: Callable[[dict], bool] = lambda doc: False) -> Index:
    """The TIMED index over documents in `statuses` (`exclude`: those someone else drives)."""
    timed = frozenset(statuses)

    def entry(doc: dict):
        status = doc.get("status")
        if (not isinstance(status, str) or status not in timed or QUARANTINED in doc or exclude(doc)
                or doc.get("_parked") == status):
            return None
        if "_since" not in doc:
            return UNSEEN, num(0)
        key = num(doc["_since"])
        return None if key is None else (status, key)
    return Index(TIMED, entry, timed)


def unseen(index: Index) -> Callable[[dict], bool]:
    """Whether `step` would start a document's clock on first sight (Lifecycle.unseen)."""
    return lambda doc: (index.entry(doc) or (None,))[0] == UNSEEN


def due(doc: dict, durations: dict, follow: Follow) -> int | None:
    if "_since" not in doc or doc["status"] not in durations or follow(doc) is None:
        return None
    return doc["_since"] + int(durations[doc["status"]] * 1000)


def next_due(table, durations: dict) -> int | None:
    """The earliest time some document of `table` moves (None: none will)."""
    times = [since + int(seconds * 1000) for status, seconds in durations.items()
             if (since := first_number(table, TIMED, status)) is not None]
    return min(times + [first_number(table, TIMED, UNSEEN)], key=lambda t: (t is None, t))


def step(table, now: int, durations: dict, *, name: str, key: Callable[[dict], str],
         order: Callable[[dict], tuple], follow: Follow, moved: Moved, budget: int) -> list[dict]:
    """Apply the moves due by `now` (about `budget` of them), each document through as many
    statuses as have passed; the transitions in the order applied. `name`: the table's name."""
    for unseen in table.ordered(TIMED, UNSEEN, limit=budget):
        with blamed(name, unseen):
            table[unseen] = {**table.get(unseen), "_since": now}
    keys: dict[str, None] = {}
    for status, seconds in durations.items():
        keys.update(dict.fromkeys(table.ordered(TIMED, status, num(now - int(seconds * 1000)), budget)))
    changes: list[dict] = []
    for doc in sorted((d for k in keys if (d := table.get(k)) is not None), key=order):
        if len(changes) >= budget:
            break
        with blamed(name, key(doc)):
            if follow(doc) is None:
                table[key(doc)] = {**doc, "_parked": doc["status"]}
                continue
            current = doc
            while (at := due(current, durations, follow)) is not None and at <= now:
                status = follow(current)
                changes.append({"id": key(doc), "from": current["status"], "to": status, "at": at})
                current = {**moved(current, status, at), "status": status, "_since": at}
            if current is not doc:
                table[key(doc)] = {k: v for k, v in current.items() if k != "_parked"}
    return changes
