"""IoT's control-plane operations (openapi/control.yaml): an execution in any status, and
whether the lifecycle simulates a thing's device."""
from __future__ import annotations

from cancelgate.families.iot import EXECUTIONS, JOBS, THINGS, rules
from cancelgate.families.iot.operations import job_arn, thing_arn
from cancelgate.runtime import current


async def put_iot_execution(thingName: str, jobId: str, body: dict):
    rules.check_status_details(body.get("statusDetails"))
    rt = current()
    now = rt.clock.now_ms()
    execution = rt.store.transact(lambda tx: rules.put_execution(
        tx.table(THINGS), tx.table(JOBS), tx.table(EXECUTIONS), thingName, jobId, body, now,
        thing_arn, job_arn))
    return {"execution": rules.execution_view(execution)}


async def put_iot_thing(thingName: str, body: dict):
    thing = current().store.transact(lambda tx: rules.set_simulation(
        tx.table(THINGS), tx.table(EXECUTIONS), thingName, body["simulate"], thing_arn(thingName)))
    return {"thingName": thing["thingName"], "thingArn": thing["thingArn"], "simulate": thing.get("_simulate", True)}
