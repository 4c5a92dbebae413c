"""The control plane's own operations (openapi/control.yaml): health, reset, the clock, the
request journal and fault rules. Each family's control operations live in its folder."""
from __future__ import annotations

from cancelgate.clock import iso_ms
from cancelgate.errors import ApiError
from cancelgate.families import REGISTRY, started
from cancelgate.mock import faults
from cancelgate.mock.faults import FAULTS
from cancelgate.runtime import current


def _health() -> dict:
    rt = current()
    store = rt.store
    health = {"status": "ok", "counts": store.counts(),
              "families": {name: {table: store.count(table) for table in family.tables}
                           for name, family in REGISTRY.items()}}
    if rt.scheduler is not None and (rt.scheduler.quarantined or rt.scheduler.failing):
        health["lifecycle"] = {"quarantined": dict(rt.scheduler.quarantined), "failing": dict(rt.scheduler.failing)}
    return health


async def health():
    return _health()


async def reset(body: dict | None = None):
    rt = current()
    config = rt.scheduler.config if rt.scheduler is not None else None
    rt.store.reset(started(rt.fixtures, rt.clock.now_ms(), config) if (body or {}).get("fixtures", True) else None)
    if rt.transitions is not None:
        rt.transitions.forget()
    return _health()


def _clock_view(clock) -> dict:
    now = clock.now_ms()
    return {"now": now, "iso": iso_ms(now), "mode": "manual" if clock.manual else "real"}


async def get_clock():
    return _clock_view(current().clock)


async def advance_clock(body: dict):
    rt = current()
    if not rt.clock.manual:
        raise ApiError("Conflict", "the clock is real; start the server with --clock manual to move it", 409)
    transitions = await rt.scheduler.advance_async(body["seconds"]) if rt.scheduler else []
    if rt.scheduler is None:
        rt.clock.set_ms(rt.clock.now_ms() + int(body["seconds"] * 1000))
    return {**_clock_view(rt.clock), "transitions": transitions}


async def list_requests(operationId: str | None = None, status: int | None = None, limit: int = 1000):
    return {"requests": current().journal.query(operationId, status, limit)}


async def clear_requests():
    current().journal.clear()
    return None, 204


async def list_faults():
    return {"rules": current().store.transact(lambda tx: faults.listed(tx.table(FAULTS)))}


async def put_faults(body: dict):
    return {"rules": current().store.transact(lambda tx: faults.replace(tx.table(FAULTS), body["rules"]))}


async def clear_faults():
    current().store.transact(lambda tx: faults.drop_all(tx.table(FAULTS)))
    return None, 204
