"""The control plane's read-only views for the state page (openapi/control.yaml, tag `observe`):
a bounded snapshot of every family's documents by status, one stored document, and the recent
transitions. No view reads more than `limit` documents of a table."""
from __future__ import annotations

import itertools
import urllib.parse

from cancelgate.control import _clock_view
from cancelgate.errors import ApiError
from cancelgate.families import REGISTRY, table_owner
from cancelgate.mock import faults
from cancelgate.mock.faults import FAULTS
from cancelgate.runtime import current

_HIDDEN = {"password"}  # never shown, not even on the control plane
_SECRET_KEYS = {"vault_sessions"}  # keyed by session id, a bearer credential: counted, never listed


def _scan(table, limit: int):
    """At most `limit` (key, document) pairs of a table, in the store's order."""
    return itertools.islice(table.items(), limit)


def _public(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


def _table_view(tx, table: str, count: int, limit: int, base: str) -> dict:
    by_status: dict[str, int] = {}
    rows = []
    transitions = current().transitions
    if table in _SECRET_KEYS:
        return {"count": count, "scanned": 0, "byStatus": {}, "rows": []}
    for key, doc in _scan(tx.table(table), limit):
        status = doc.get("status")
        label = status if isinstance(status, str) else "-"
        by_status[label] = by_status.get(label, 0) + 1
        if isinstance(status, str) and transitions is not None:
            transitions.seen(table, key, status)
        rows.append({"id": key, "status": label,
                     "href": f"{base}/state/{urllib.parse.quote(table, safe='')}/{urllib.parse.quote(key, safe='')}"})
    return {"count": count, "scanned": len(rows), "byStatus": by_status, "rows": rows}


async def get_state(limit: int = 100, transitions: int = 50):
    rt = current()
    base = "/_cancelgate"
    counts = {table: rt.store.count(table) for family in REGISTRY.values() for table in family.tables}

    def read(tx):
        return ({name: {"tables": {table: _table_view(tx, table, counts[table], limit, base)
                                   for table in family.tables}}
                 for name, family in REGISTRY.items() if family.tables},   # the data plane shares IoT's
                faults.listed(tx.table(FAULTS)))
    families, rules = rt.store.transact(read)
    recent = rt.transitions.recent(transitions) if rt.transitions is not None else []
    return {"clock": _clock_view(rt.clock), "families": families, "faults": rules, "transitions": recent}


async def get_document(table: str, key: str):
    if table_owner(table) is None or table in _SECRET_KEYS:
        known = sorted(t for family in REGISTRY.values() for t in family.tables)
        raise ApiError("Not Found", f"no table {table!r} to read; one of "
                       f"{', '.join(t for t in known if t not in _SECRET_KEYS)}", 404)
    doc = current().store.transact(lambda tx: tx.table(table).get(key))
    if doc is None:
        raise ApiError("Not Found", f"no document {key!r} in {table}", 404)
    return _public(doc)


async def list_transitions(limit: int = 100):
    rt = current()
    return {"transitions": rt.transitions.recent(limit) if rt.transitions is not None else []}
