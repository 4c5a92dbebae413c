"""Fault rules: which call fails or waits, kept in the store so rules and their counters are
global. Plain functions over a table, like the families' rules."""
from __future__ import annotations

import re

FAULTS = "faults"          # store table: rule id -> rule
CODE = re.compile(r"^[A-Za-z][A-Za-z_]{0,63}$")


def pick_fault(rules: dict, operation_id: str, family: str, roll: float) -> tuple[dict | None, dict]:
    """The first rule matching this call that fires now, and the rules with counters updated.

    A pure function of the rules (ordered by id) and a random roll in [0, 1).
    """
    for rule_id in sorted(rules):
        rule = rules[rule_id]
        match = rule.get("match", {})
        if match.get("operationId") not in (None, operation_id) or match.get("family") not in (None, family):
            continue
        if rule.get("remaining") == 0:
            continue
        if roll >= rule.get("probability", 1.0):
            continue
        updated = {**rule, "fired": rule.get("fired", 0) + 1}
        if "remaining" in rule:
            updated["remaining"] = rule["remaining"] - 1
        return updated, {**rules, rule_id: updated}
    return None, rules


def fire(table, operation_id: str, family: str, roll: float) -> dict | None:
    """The rule that fires for this call, its counters updated in `table`; None if none does."""
    rules = {rule["id"]: rule for rule in table.values()}
    if not rules:
        return None
    rule, updated = pick_fault(rules, operation_id, family, roll)
    if rule is not None:
        table[rule["id"]] = updated[rule["id"]]
    return rule


def listed(table) -> list[dict]:
    return sorted(table.values(), key=lambda rule: rule["id"])


def drop_all(table) -> None:
    for rule in list(table.values()):
        table.pop(rule["id"])


def replace(table, given_rules: list[dict]) -> list[dict]:
    drop_all(table)
    for index, given in enumerate(given_rules):
        rule = {**given, "id": f"rule-{index:03d}", "fired": 0}
        if "count" in given:
            rule["remaining"] = given["count"]
        table[rule["id"]] = rule
    return listed(table)
