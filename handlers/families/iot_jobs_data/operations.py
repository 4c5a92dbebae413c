"""AWS IoT Jobs Data Plane operations (openapi/iot-jobs-data.yaml): read the request, run the
rule over the IoT tables in one transaction, answer."""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.iot import EXECUTIONS, JOBS, THINGS
from cancelgate.families.iot.rules import check_status_details
from cancelgate.families.iot_jobs_data import rules
from cancelgate.runtime import current


async def GetPendingJobExecutions(thingName: str):
    return current().store.transact(
        lambda tx: rules.get_pending(tx.table(THINGS), tx.table(EXECUTIONS), thingName))


async def DescribeJobExecution(thingName: str, jobId: str, includeJobDocument: bool = True,
                               executionNumber: int | None = None):
    rt = current()
    now = rt.clock.now_ms()
    return {"execution": rt.store.transact(lambda tx: rules.describe(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), thingName, jobId, executionNumber,
        includeJobDocument is not False, now))}


async def StartNextPendingJobExecution(thingName: str, body: dict | None = None):
    body = body or {}
    check_status_details(body.get("statusDetails"))
    rt = current()
    now = rt.clock.now_ms()
    return rt.store.transact(lambda tx: rules.start_next(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), thingName, body.get("statusDetails"),
        body.get("stepTimeoutInMinutes"), now))


async def UpdateJobExecution(thingName: str, jobId: str, body: dict):
    if jobId == rules.NEXT:  # POST to StartNext's path: a method that path does not have
        raise ApiError("InvalidRequestException", "Method Not Allowed", 405, headers={"Allow": "GET, HEAD, PUT"})
    check_status_details(body.get("statusDetails"))
    rt = current()
    now = rt.clock.now_ms()
    return rt.store.transact(lambda tx: rules.update(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), thingName, jobId, body, now))
