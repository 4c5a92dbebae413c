"""AWS IoT Jobs (openapi/iot.yaml): CancelJobExecution with `force` and `expectedVersion`
(seed 003), and the things, jobs and executions it acts on."""
from __future__ import annotations

from cancelgate.families.family import Family, Lifecycle, requires
from cancelgate.families.iot import lifecycle

THINGS, JOBS, EXECUTIONS = "iot_things", "iot_jobs", "iot_executions"
THING_TYPES, THING_GROUPS = "iot_thing_types", "iot_thing_groups"

FAMILY = Family(
    name="iot",
    tables=(THINGS, JOBS, EXECUTIONS, THING_TYPES, THING_GROUPS),
    documents={THINGS: requires("thingName", "thingArn"), JOBS: requires("jobId", "jobArn", "targets", targets="array"),
               EXECUTIONS: requires("thingName", "jobId", "status", "versionNumber", versionNumber="integer")},
    lifecycle=Lifecycle(EXECUTIONS, lifecycle.lifecycle_step, lifecycle.lifecycle_next, lifecycle.CONFIG_SCHEMA,
                        unseen=lifecycle.unseen),
    indexes={EXECUTIONS: lifecycle.INDEXES},
)
