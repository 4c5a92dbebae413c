"""The registry of API families. A family is a spec (`openapi/<name>.yaml`), a folder here, and
one entry below; the scheduler, the fixtures loader, reset and the control plane iterate
REGISTRY and never name a family themselves.

Each folder holds `operations.py` (the spec's operationIds), `control.py` (its control-plane
operations), `rules.py` (the seeds' rules, plain functions over tables) and `lifecycle.py` (how
its documents move on the clock), and declares its tables and `FAMILY` in `__init__.py`.
"""
from __future__ import annotations

from cancelgate.families import batch, iot, iot_jobs_data, vault
from cancelgate.families.family import Family, Lifecycle

REGISTRY: dict[str, Family] = {family.name: family for family in (batch.FAMILY, iot.FAMILY, iot_jobs_data.FAMILY,
                                                                  vault.FAMILY)}

__all__ = ["REGISTRY", "Family", "Lifecycle", "indexes", "started", "table_owner"]


def indexes() -> dict:
    """table -> the indexes (family.Index) the store keeps for it, from every family."""
    return {table: specs for family in REGISTRY.values() for table, specs in family.indexes.items()}


def table_owner(table: str) -> Family | None:
    """The family whose tables include `table`."""
    return next((family for family in REGISTRY.values() if table in family.tables), None)


def started(state: dict, now: int, config: dict | None) -> dict:
    """The state a server starts (or resets) with, each document whose clock the lifecycle
    would start on first sight (Lifecycle.unseen) stamped `_since` = `now` already: the same
    time the first tick would give it, without a write per document. `config`: the lifecycle
    file (None: no lifecycle, nothing is stamped); the documents themselves are not changed."""
    stamped = dict(state)
    for name, family in REGISTRY.items():
        lifecycle = family.lifecycle
        if config is None or name not in config or lifecycle is None or lifecycle.unseen is None:
            continue
        docs = state.get(lifecycle.table)
        if docs:
            stamped[lifecycle.table] = {key: {**doc, "_since": now} if lifecycle.unseen(doc) else doc
                                        for key, doc in docs.items()}
    return stamped
