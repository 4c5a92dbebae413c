"""Batch's control-plane operations (openapi/control.yaml): jobs in any state, a queue moved by hand."""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.batch import JOBS, attempts, consistency, rules
from cancelgate.families.batch.operations import arn_of
from cancelgate.runtime import current


async def put_batch_job(jobId: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job = {"createdAt": now, "dependsOn": [], **body, "jobId": jobId, "jobArn": arn_of(jobId)}

    def put(tx):
        jobs = tx.table(JOBS)
        consistency.check(jobs, job)
        return rules.public(jobs, rules.put_job(jobs, job, now))
    return rt.store.transact(put)


async def dispatch_batch_queue(jobQueue: str):
    rt = current()
    now = rt.clock.now_ms()
    moved = rt.store.transact(lambda tx: rules.move_head(tx.table(JOBS), jobQueue, now, []))
    if moved is None:
        raise ApiError("Not Found", f"queue {jobQueue} has no RUNNABLE job", 404)
    return {"jobId": moved["jobId"], "status": moved["status"]}


async def exit_batch_job(jobId: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    ended = rt.store.transact(lambda tx: attempts.exit_running(tx.table(JOBS), jobId, body["exitCode"],
                                                               body.get("reason"), now))
    return {"jobId": ended["jobId"], "status": ended["status"]}
