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

__all__ = ["REGISTRY", "Family", "Lifecycle", "indexes", "table_owner"]


def indexes() -> dict:
    """table -> the indexes (family.Index) the store keeps for it, from every family."""
    return {table: specs for family in REGISTRY.values() for table, specs in family.indexes.items()}


def table_owner(table: str) -> Family | None:
    """The family whose tables include `table`."""
    return next((family for family in REGISTRY.values() if table in family.tables), None)
