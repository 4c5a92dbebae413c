"""AWS Batch operations (openapi/batch.yaml): read the request, run the rule, answer."""
from __future__ import annotations

import uuid

from cancelgate.families.batch import JOBS, rules
from cancelgate.runtime import current


def arn_of(job_id: str) -> str:
    rt = current()
    return rules.job_arn(rt.region, rt.account, job_id)


def _stop(body: dict, terminate: bool) -> dict:
    rt = current()
    now = rt.clock.now_ms()
    rt.store.transact(lambda tx: rules.stop_job(tx.table(JOBS), body["jobId"], body["reason"], now,
                                                terminate=terminate))
    return {}


def _stop_many(body: dict, terminate: bool) -> dict:
    rt = current()
    now = rt.clock.now_ms()
    return rt.store.transact(lambda tx: rules.stop_jobs(tx.table(JOBS), body["jobs"], body["reason"],
                                                        now, terminate=terminate))


async def CancelJob(body: dict):
    return _stop(body, terminate=False)


async def TerminateJob(body: dict):
    return _stop(body, terminate=True)


async def CancelJobs(body: dict):
    return _stop_many(body, terminate=False)


async def TerminateJobs(body: dict):
    return _stop_many(body, terminate=True)


async def SubmitJob(body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job_id = str(uuid.uuid4())
    return rt.store.transact(lambda tx: rules.submit(tx.table(JOBS), body, now, job_id, arn_of))


async def DescribeJobs(body: dict):
    def describe(tx):
        jobs = tx.table(JOBS)
        found = (jobs.get(job_id) for job_id in dict.fromkeys(body["jobs"]))
        return {"jobs": [rules.public(jobs, job) for job in found if job is not None]}
    return current().store.transact(describe)


async def ListJobs(body: dict):
    return current().store.transact(lambda tx: rules.list_jobs(tx.table(JOBS), body))
