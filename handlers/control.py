"""Control plane operations (openapi/control.yaml): state that tests and people set directly."""
from __future__ import annotations

import datetime

from handlers.batch import JOBS as BATCH_JOBS, arn_of
import zlib

from handlers import iot, vault
from handlers.observe import FAULTS
from handlers.rules import iot as iot_rules
from handlers.rules import vault as vault_rules
from handlers.rules import batch as batch_rules
from handlers.runtime import current
from handlers.wire import ApiError


async def health():
    return {"status": "ok", "counts": current().store.counts()}


async def reset(body: dict):
    rt = current()
    rt.store.reset(rt.fixtures if body["fixtures"] else None)
    return {"status": "ok", "counts": rt.store.counts()}


def _clock_view(clock) -> dict:
    now = clock.now_ms()
    iso = datetime.datetime.fromtimestamp(now / 1000, datetime.timezone.utc).isoformat(timespec="milliseconds")
    return {"now": now, "iso": iso.replace("+00:00", "Z"), "mode": "manual" if clock.manual else "real"}


async def get_clock():
    return _clock_view(current().clock)


async def advance_clock(body: dict):
    rt = current()
    if not rt.clock.manual:
        raise ApiError("Conflict", "the clock is real; start the server with --clock manual to move it", 409)
    transitions = rt.scheduler.advance(body["seconds"]) if rt.scheduler else []
    if rt.scheduler is None:
        rt.clock.set_ms(rt.clock.now_ms() + int(body["seconds"] * 1000))
    return {**_clock_view(rt.clock), "transitions": transitions}


async def put_batch_job(jobId: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job = {"createdAt": now, "dependsOn": [], **body, "jobId": jobId, "jobArn": arn_of(jobId)}

    def put(tx):
        jobs = tx.table(BATCH_JOBS)
        return batch_rules.public(jobs, batch_rules.put_job(jobs, job, now))
    return rt.store.transact(put)


async def dispatch_batch_queue(jobQueue: str):
    rt = current()
    now = rt.clock.now_ms()
    moved = rt.store.transact(lambda tx: batch_rules.dispatch(tx.table(BATCH_JOBS), jobQueue, now))
    if moved is None:
        raise ApiError("Not Found", f"queue {jobQueue} has no RUNNABLE job", 404)
    return {"jobId": moved["jobId"], "status": moved["status"]}


async def list_requests(operationId: str | None = None, status: int | None = None, limit: int = 1000):
    return {"requests": current().journal.query(operationId, status, limit)}


async def clear_requests():
    current().journal.clear()
    return None, 204


def _rules(tx) -> list[dict]:
    return sorted(tx.table(FAULTS).values(), key=lambda rule: rule["id"])


def _drop_rules(tx) -> None:
    table = tx.table(FAULTS)
    for rule in list(table.values()):
        table.pop(rule["id"])


async def list_faults():
    return {"rules": current().store.transact(_rules)}


async def put_faults(body: dict):
    def replace(tx):
        _drop_rules(tx)
        table = tx.table(FAULTS)
        for index, given in enumerate(body["rules"]):
            rule = {**given, "id": f"rule-{index:03d}", "fired": 0}
            if "count" in given:
                rule["remaining"] = given["count"]
            table[rule["id"]] = rule
        return _rules(tx)
    return {"rules": current().store.transact(replace)}


async def clear_faults():
    current().store.transact(_drop_rules)
    return None, 204


async def put_iot_execution(thingName: str, jobId: str, body: dict):
    iot_rules.check_status_details(body.get("statusDetails"))
    rt = current()
    now = rt.clock.now_ms()
    execution = rt.store.transact(lambda tx: iot_rules.put_execution(
        tx.table(iot.THINGS), tx.table(iot.JOBS), tx.table(iot.EXECUTIONS), thingName, jobId, body, now,
        iot.thing_arn, iot.job_arn))
    return {"execution": iot_rules.execution_view(execution)}


async def put_vault_job(job_id: int, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job = {"method": "POST", "created_by": 1, "created_date": now, **body, "id": job_id, "_since": now}
    def put(tx):
        tx.table(vault.JOBS)[str(job_id)] = job
    rt.store.transact(put)
    return {**vault_rules.job_view(job, "v26.2"), "vault_id": job["vault_id"]}


async def put_vault_user(username: str, body: dict):
    # a stable user id from the name unless one is given, so fixtures and tests can predict it
    user = {"username": username, "password": body["password"], "vaultId": body["vault_id"],
            "userId": body.get("user_id", 100000 + zlib.crc32(username.encode()) % 900000)}
    def put(tx):
        tx.table(vault.USERS)[username] = user
    current().store.transact(put)
    return {"username": username, "userId": user["userId"], "vaultId": user["vaultId"]}
