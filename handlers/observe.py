"""What a test can ask of the server beyond the APIs: a journal of recent requests, and faults
and latency injected by rule or by header.

The journal records the request line, the operation, the family, the answer's status and error
code, the duration, the clock's time and the store keys the request wrote; never a header value
or a body, so no secret (an Authorization header, a Vault password) can end up in it.
"""
from __future__ import annotations

import asyncio
import collections
import random
import re
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.store import touched_keys
from handlers.wire import ApiError, WireMap

FAULT_HEADER = b"x-cancelgate-fault"
FAULTS = "faults"          # store table: rule id -> rule (global, so counters are too)
CODE = re.compile(r"^[A-Za-z][A-Za-z_]{0,63}$")

# Per request: what the inner layers learned (operation, error code) for the journal.
request_notes: ContextVar[dict | None] = ContextVar("request_notes", default=None)


def operation_of(scope: Scope) -> str | None:
    """The spec operationId of a routed request (Connexion records the resolved function,
    `handlers.<module>.<operationId>`)."""
    resolved = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
    return resolved.rsplit(".", 1)[-1] if resolved else None


def note(**facts: Any) -> None:
    notes = request_notes.get()
    if notes is not None:
        notes.update(facts)


class Journal:
    """The last `size` requests, oldest dropped; size 0 keeps nothing. With a shared store (one
    offering journal_append, such as Redis) the journal is kept there, common to all workers."""

    def __init__(self, size: int, store=None):
        self.size = size
        self.enabled = size > 0
        self.entries: collections.deque = collections.deque(maxlen=max(size, 1))
        self.shared = store if hasattr(store, "journal_append") else None

    def add(self, entry: dict) -> None:
        if not self.enabled:
            return
        if self.shared is not None:
            self.shared.journal_append(entry, self.size)
        else:
            self.entries.append(entry)

    def query(self, operation_id: str | None, status: int | None, limit: int) -> list[dict]:
        entries = self.shared.journal_entries() if self.shared is not None else self.entries
        found = [e for e in entries
                 if (operation_id is None or e["operationId"] == operation_id)
                 and (status is None or e["status"] == status)]
        return found[-limit:]

    def clear(self) -> None:
        if self.shared is not None:
            self.shared.journal_clear()
        self.entries.clear()


class RecordRequests:
    """Outermost: times the request and writes its journal entry once the answer has gone."""

    def __init__(self, app: ASGIApp, wires: WireMap, journal: Journal, clock):
        self.app = app
        self.wires = wires
        self.journal = journal
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.journal.enabled:
            return await self.app(scope, receive, send)
        notes: dict = {"status": 500}
        keys: list = []
        notes_token, keys_token = request_notes.set(notes), touched_keys.set(keys)
        extensions = scope.setdefault("extensions", {})  # routing fills in the operation here
        started = time.perf_counter()

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                notes["status"] = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, watched)
        finally:
            request_notes.reset(notes_token)
            touched_keys.reset(keys_token)
            self.journal.add({
                "time": self.clock.now_ms(),
                "method": scope["method"],
                "path": scope["path"],
                "operationId": operation_of({"extensions": extensions}),
                "family": self.wires.family_for(scope["path"]),
                "status": notes["status"],
                "errorCode": notes.get("error"),
                "durationMs": round((time.perf_counter() - started) * 1000, 3),
                "touched": sorted({key for kind, key in keys if kind != FAULTS}),
            })


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


class InjectFaults:
    """After routing: applies the fault rules and the `x-cancelgate-fault` header to operations
    of the emulated APIs (never to the control plane). A fault answers before the handler runs,
    so it never changes stored state."""

    def __init__(self, app: ASGIApp, wires: WireMap, store, control_base: str):
        self.app = app
        self.wires = wires
        self.store = store
        self.control_base = control_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = operation_of(scope)
        path = scope.get("path", "")
        if scope["type"] != "http" or operation_id is None or path.startswith(self.control_base):
            return await self.app(scope, receive, send)
        wire = self.wires.for_path(path)
        family = self.wires.family_for(path)
        header = dict(scope["headers"]).get(FAULT_HEADER)
        if header is not None:
            code = header.decode("latin-1").strip()
            if not CODE.match(code) or code not in wire.fault_codes():
                raise wire.from_status(400, f"x-cancelgate-fault names no error this API can answer; "
                                            f"one of {sorted(wire.fault_codes())}")
            raise ApiError(code, "fault injected by the x-cancelgate-fault header",
                           wire.fault_status(code))
        roll = random.random()

        def fire(tx):
            table = tx.table(FAULTS)
            rules = {rule["id"]: rule for rule in table.values()}
            if not rules:
                return None
            rule, updated = pick_fault(rules, operation_id, family, roll)
            if rule is not None:
                table[rule["id"]] = updated[rule["id"]]
            return rule
        rule = self.store.transact(fire) if self.store.count(FAULTS) else None
        if rule is not None:
            latency = rule.get("latency")
            if latency:
                low, high = latency.get("minMs", 0), latency.get("maxMs", latency.get("minMs", 0))
                await asyncio.sleep(random.uniform(low, max(low, high)) / 1000)
            fault = rule.get("fault")
            if fault:
                raise ApiError(fault["code"], fault.get("message", f"fault injected by rule {rule['id']}"),
                               wire.fault_status(fault["code"], fault.get("status")))
        await self.app(scope, receive, send)
