"""The middlewares of the mock features: one writes each request's journal entry, one injects
faults and latency by rule (mock/faults.py) or by the x-cancelgate-fault header."""
from __future__ import annotations

import asyncio
import random
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cancelgate.errors import ApiError
from cancelgate.mock import faults
from cancelgate.mock.faults import FAULTS
from cancelgate.mock.journal import Journal
from cancelgate.store import touched_keys
from cancelgate.web.wire import WireMap

FAULT_HEADER = b"x-cancelgate-fault"

# Per request: what the inner layers learned (operation, error code) for the journal.
request_notes: ContextVar[dict | None] = ContextVar("request_notes", default=None)


def operation_of(scope: Scope) -> str | None:
    """The spec operationId of a routed request (Connexion records the resolved function,
    `cancelgate.families.<family>.operations.<operationId>`)."""
    resolved = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
    return resolved.rsplit(".", 1)[-1] if resolved else None


def note(**facts: Any) -> None:
    notes = request_notes.get()
    if notes is not None:
        notes.update(facts)


class RecordRequests:
    """Outermost: times the request and writes its journal entry once the answer has gone."""

    def __init__(self, app: ASGIApp, wires: WireMap, journal: Journal, clock, unrecorded: tuple[str, ...] = ()):
        """`unrecorded`: paths whose GETs are not journaled (the state page's polling)."""
        self.app = app
        self.wires = wires
        self.journal = journal
        self.clock = clock
        self.unrecorded = frozenset(unrecorded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or not self.journal.enabled
                or (scope["method"] == "GET" and scope["path"] in self.unrecorded)):
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
                **({"clientId": notes["clientId"]} if "clientId" in notes else {}),
            })


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
            if not faults.CODE.match(code) or code not in wire.fault_codes():
                raise wire.from_status(400, f"x-cancelgate-fault names no error this API can answer; "
                                            f"one of {sorted(wire.fault_codes())}")
            raise ApiError(code, "fault injected by the x-cancelgate-fault header",
                           wire.fault_status(code))
        roll = random.random()

        rule = (self.store.transact(lambda tx: faults.fire(tx.table(FAULTS), operation_id, family, roll))
                if self.store.count(FAULTS) else None)
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
