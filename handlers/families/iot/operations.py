"""AWS IoT Jobs operations (openapi/iot.yaml): read the request, run the rule, answer."""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.iot import EXECUTIONS, JOBS, THINGS, rules
from cancelgate.runtime import current


def thing_arn(name: str) -> str:
    rt = current()
    return rules.thing_arn(rt.region, rt.account, name)


def job_arn(job_id: str) -> str:
    rt = current()
    return rules.job_arn(rt.region, rt.account, job_id)


async def CreateThing(thingName: str, body: dict | None = None):
    thing = current().store.transact(
        lambda tx: rules.create_thing(tx.table(THINGS), thingName, body or {}, thing_arn(thingName)))
    return {k: thing[k] for k in ("thingName", "thingArn", "thingId")}


async def CreateJob(jobId: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    job = rt.store.transact(lambda tx: rules.create_job(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), jobId, body, now, job_arn(jobId)))
    answer = {"jobArn": job["jobArn"], "jobId": job["jobId"]}
    if "description" in job:
        answer["description"] = job["description"]
    return answer


def _job_and_executions(tx, job_id: str):
    job = tx.table(JOBS).get(job_id)
    if job is None:
        raise ApiError("ResourceNotFoundException", f"Job {job_id} not found")
    executions = tx.table(EXECUTIONS)
    found = [executions.get(rules.execution_key(rules.thing_name_of(arn), job_id)) for arn in job["targets"]]
    return job, [e for e in found if e is not None]


async def DescribeJob(jobId: str, beforeSubstitution: bool | None = None):
    def describe(tx):
        job, executions = _job_and_executions(tx, jobId)
        answer = {"job": rules.job_view(job, executions)}
        if "documentSource" in job:
            answer["documentSource"] = job["documentSource"]
        return answer
    return current().store.transact(describe)


async def DescribeJobExecution(thingName: str, jobId: str, executionNumber: int | None = None):
    def describe(tx):
        execution = tx.table(EXECUTIONS).get(rules.execution_key(thingName, jobId))
        if execution is None or executionNumber not in (None, execution["executionNumber"]):
            raise ApiError("ResourceNotFoundException",
                           f"Job execution of job {jobId} on thing {thingName} not found")
        return {"execution": rules.execution_view(execution)}
    return current().store.transact(describe)


def _listed(summaries: list[dict], nextToken: str | None, maxResults: int | None) -> dict:
    shown, token = rules.page(summaries, nextToken, maxResults)
    answer = {"executionSummaries": shown}
    if token:
        answer["nextToken"] = token
    return answer


async def ListJobExecutionsForJob(jobId: str, status: str | None = None, maxResults: int | None = None,
                                  nextToken: str | None = None):
    def listed(tx):
        _, executions = _job_and_executions(tx, jobId)
        return [{"thingArn": e["thingArn"], "jobExecutionSummary": rules.summary_view(e)}
                for e in executions if status in (None, e["status"])]
    return _listed(current().store.transact(listed), nextToken, maxResults)


async def ListJobExecutionsForThing(thingName: str, status: str | None = None, maxResults: int | None = None,
                                    nextToken: str | None = None, jobId: str | None = None,
                                    namespaceId: str | None = None):
    def listed(tx):
        thing = tx.table(THINGS).get(thingName)
        if thing is None:
            raise ApiError("ResourceNotFoundException", f"Thing {thingName} not found")
        executions = tx.table(EXECUTIONS)
        found = [executions.get(rules.execution_key(thingName, job)) for job in thing.get("_jobs", [])
                 if jobId in (None, job)]
        return [{"jobId": e["jobId"], "jobExecutionSummary": rules.summary_view(e)}
                for e in found if e is not None and status in (None, e["status"])]
    return _listed(current().store.transact(listed), nextToken, maxResults)


async def CancelJobExecution(thingName: str, jobId: str, force: bool = False, body: dict | None = None):
    body = body or {}
    rules.check_status_details(body.get("statusDetails"))
    rt = current()
    now = rt.clock.now_ms()
    rt.store.transact(lambda tx: rules.cancel_execution(
        tx.table(THINGS), tx.table(EXECUTIONS), thingName, jobId, force=bool(force),
        expected_version=body.get("expectedVersion"), status_details=body.get("statusDetails"), now=now))
    return None, 200
