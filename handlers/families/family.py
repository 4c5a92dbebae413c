"""What a family is to the rest of the server: one registry entry (see families/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

Step = Callable[[Any, int, dict, int], list]     # (table, now, config, budget) -> transitions applied
NextDue = Callable[[Any, dict], "int | None"]    # (table, config) -> when the next one is due


@dataclass(frozen=True)
class Index:
    """An ordered index the store keeps for a table (store/indexes.py): `entry(doc)` is the
    document's `(group, sort key)`, or None to leave it out. It must accept any document a
    table can hold, and give the same answer for the same document. `statuses`: the only
    statuses in which `entry` places a document (None: any), so a write of a document in
    another status need not ask it."""

    name: str
    entry: Callable[[Mapping], "tuple[str, str] | None"]
    statuses: frozenset | None = None


@dataclass(frozen=True)
class Lifecycle:
    """How a family's documents move on the clock: the table they live in, the rule applying
    what is due, the rule saying when the next move is due, and the schema of the family's
    section of the lifecycle file.

    `step` applies at most about `budget` transitions (the scheduler calls it again while it
    returns that many), and both rules find what is due through the table's indexes."""

    table: str
    step: Step
    next_due: NextDue
    config_schema: dict
    # what `step` and `next_due` are given, from the transaction: the table by default, or
    # the family's own view of several tables
    view: Callable[[Any], Any] | None = None
    # a document of `table` whose clock `step` would only start (`_since`), the first time it
    # sees it: one the server starts with (fixtures, a reset) gets its `_since` at once
    unseen: Callable[[Mapping], bool] | None = None

    def open(self, tx) -> Any:
        return self.view(tx) if self.view is not None else tx.table(self.table)


def tables_view(roles: Mapping[str, str]) -> Callable[[Any], dict]:
    """A Lifecycle view for rules that need several tables: role -> the table of that name."""
    return lambda tx: {role: tx.table(name) for role, name in roles.items()}


@dataclass(frozen=True)
class Family:
    """`name` is both the spec (`openapi/<name>.yaml`, whose `x-cancelgate-wire` is the family's
    wire) and the family's key in the lifecycle file and fault rules."""

    name: str
    tables: tuple[str, ...]
    # table -> how fixture documents (written as the service shows them) gain our bookkeeping
    prepare: Mapping[str, Callable[[dict], dict]] = field(default_factory=dict)
    # table -> JSON schema every document of a fixture or --db file must satisfy at start
    documents: Mapping[str, dict] = field(default_factory=dict)
    lifecycle: Lifecycle | None = None
    # table -> the indexes the store keeps for it
    indexes: Mapping[str, tuple[Index, ...]] = field(default_factory=dict)


def requires(*names: str, **types: str) -> dict:
    """A document schema: an object with these fields, of these JSON types where named."""
    return {"type": "object", "required": list(names),
            "properties": {name: {"type": types.get(name, "string")} for name in names}}
