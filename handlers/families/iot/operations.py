"""AWS IoT Jobs operations (openapi/iot.yaml): read the request, run the rule, answer."""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families import paging
from cancelgate.families.iot import EXECUTIONS, JOBS, THING_GROUPS, THING_TYPES, THINGS, rules
from cancelgate.runtime import current
from cancelgate.web.context import signing_region


def region() -> str:
    """ARNs carry the region the client signed for (the server's default when unsigned)."""
    return signing_region(current().region)


def thing_arn(name: str) -> str:
    return rules.thing_arn(region(), current().account, name)


def job_arn(job_id: str) -> str:
    return rules.job_arn(region(), current().account, job_id)


def thing_type_arn(name: str) -> str:
    return f"arn:aws:iot:{region()}:{current().account}:thingtype/{name}"


async def CreateThing(thingName: str, body: dict | None = None):
    thing = current().store.transact(
        lambda tx: rules.create_thing(tx.table(THINGS), thingName, body or {}, thing_arn(thingName)))
    return {k: thing[k] for k in ("thingName", "thingArn", "thingId")}


async def CreateJob(jobId: str, body: dict):
    rt = current()
    now = rt.clock.now_ms()
    arn = job_arn(jobId)
    job = rt.store.transact(lambda tx: rules.create_job(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), jobId, body, now, arn, tx.table(THING_GROUPS)))
    answer = {"jobArn": job["jobArn"], "jobId": job["jobId"]}
    if "description" in job:
        answer["description"] = job["description"]
    return answer


def _job_and_executions(tx, job_id: str):
    job = tx.table(JOBS).get(job_id)
    if job is None:
        raise ApiError("ResourceNotFoundException", f"Job {job_id} not found")
    return job, rules.executions_of(tx.table(EXECUTIONS), job)


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
    return paging.listed(summaries, nextToken, maxResults or 250, "InvalidRequestException", "executionSummaries")


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


async def CancelJob(jobId: str, force: bool = False, body: dict | None = None):
    body = body or {}
    rt = current()
    now = rt.clock.now_ms()
    job = rt.store.transact(lambda tx: rules.cancel_job(
        tx.table(JOBS), tx.table(EXECUTIONS), jobId, force=bool(force), reason_code=body.get("reasonCode"),
        comment=body.get("comment"), now=now))
    return {k: job[k] for k in ("jobArn", "jobId", "description") if k in job}


async def DeleteJob(jobId: str, force: bool = False, namespaceId: str | None = None):
    current().store.transact(lambda tx: rules.delete_job(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), jobId, force=bool(force)))
    return None, 200


async def DeleteJobExecution(thingName: str, jobId: str, executionNumber: int, force: bool = False,
                             namespaceId: str | None = None):
    current().store.transact(lambda tx: rules.delete_execution(
        tx.table(THINGS), tx.table(EXECUTIONS), thingName, jobId, executionNumber, force=bool(force)))
    return None, 200


async def GetJobDocument(jobId: str, beforeSubstitution: bool | None = None):
    job, _ = current().store.transact(lambda tx: _job_and_executions(tx, jobId))
    return {"document": job["document"]} if "document" in job else {}


async def ListJobs(status: str | None = None, targetSelection: str | None = None, maxResults: int | None = None,
                   nextToken: str | None = None, thingGroupName: str | None = None,
                   thingGroupId: str | None = None, namespaceId: str | None = None):
    def listed(tx):
        jobs, executions = tx.table(JOBS), tx.table(EXECUTIONS)
        group = None
        if thingGroupName is not None or thingGroupId is not None:
            groups = tx.table(THING_GROUPS)
            group = (groups.get(thingGroupName) if thingGroupName is not None else
                     next((g for g in groups.values() if g["thingGroupId"] == thingGroupId), None))
            if group is None:
                return []
        summaries = []
        for job in sorted(jobs.values(), key=lambda j: j["jobId"]):
            if group is not None and group["thingGroupArn"] not in job["targets"]:
                continue
            summary = rules.job_summary(job, rules.executions_of(executions, job))
            if status in (None, summary["status"]) and targetSelection in (None, summary["targetSelection"]):
                summaries.append(summary)
        return summaries
    shown, token = rules.page(current().store.transact(listed), nextToken, maxResults)
    return {"jobs": shown, **({"nextToken": token} if token else {})}


async def DescribeThing(thingName: str):
    def describe(tx):
        thing = tx.table(THINGS).get(thingName)
        if thing is None:
            raise ApiError("ResourceNotFoundException", f"Thing {thingName} not found")
        return rules.thing_view(thing)
    return current().store.transact(describe)


async def ListThings(nextToken: str | None = None, maxResults: int | None = None, attributeName: str | None = None,
                     attributeValue: str | None = None, thingTypeName: str | None = None,
                     usePrefixAttributeValue: bool | None = None):
    things = current().store.transact(lambda tx: rules.list_things(
        tx.table(THINGS), attributeName, attributeValue, thingTypeName, bool(usePrefixAttributeValue)))
    shown, token = rules.page(things, nextToken, maxResults)
    return {"things": shown, **({"nextToken": token} if token else {})}


async def UpdateThing(thingName: str, body: dict):
    current().store.transact(lambda tx: rules.update_thing(tx.table(THINGS), tx.table(THING_TYPES), thingName, body))
    return {}


async def DeleteThing(thingName: str, expectedVersion: int | None = None):
    current().store.transact(lambda tx: rules.delete_thing(tx.table(THINGS), tx.table(EXECUTIONS), thingName,
                                                           expectedVersion, tx.table(THING_GROUPS)))
    return {}


async def CreateThingType(thingTypeName: str, body: dict | None = None):
    rt = current()
    now = rt.clock.now_ms()
    arn = thing_type_arn(thingTypeName)
    made = rt.store.transact(lambda tx: rules.create_thing_type(tx.table(THING_TYPES), thingTypeName, body or {},
                                                                arn, now))
    return {k: made[k] for k in ("thingTypeName", "thingTypeArn", "thingTypeId")}


async def DescribeThingType(thingTypeName: str):
    def describe(tx):
        found = tx.table(THING_TYPES).get(thingTypeName)
        if found is None:
            raise ApiError("ResourceNotFoundException", f"Thing type {thingTypeName} not found")
        return rules.thing_type_view(found)
    return current().store.transact(describe)


async def CreateThingGroup(thingGroupName: str, body: dict | None = None):
    rt = current()
    now = rt.clock.now_ms()
    arn = f"arn:aws:iot:{region()}:{rt.account}:thinggroup/{thingGroupName}"
    group = rt.store.transact(lambda tx: rules.create_thing_group(tx.table(THING_GROUPS), thingGroupName,
                                                                  body or {}, arn, now))
    return {k: group[k] for k in ("thingGroupName", "thingGroupArn", "thingGroupId")}


async def DescribeThingGroup(thingGroupName: str):
    def describe(tx):
        group = tx.table(THING_GROUPS).get(thingGroupName)
        if group is None:
            raise ApiError("ResourceNotFoundException", f"Thing group {thingGroupName} not found")
        return rules.thing_group_view(group)
    return current().store.transact(describe)


async def AddThingToThingGroup(body: dict):
    rt = current()
    now = rt.clock.now_ms()
    rt.store.transact(lambda tx: rules.add_thing_to_group(tx.table(THINGS), tx.table(THING_GROUPS), tx.table(JOBS),
                                                          tx.table(EXECUTIONS), body, now))
    return {}
