"""AWS Batch (openapi/batch.yaml): CancelJob and TerminateJob (seeds 001, 002) and the jobs
they act on."""
from __future__ import annotations

from cancelgate.families.batch import lifecycle, rules
from cancelgate.families.family import Family, Lifecycle, requires

JOBS = "batch_jobs"

FAMILY = Family(
    name="batch",
    tables=(JOBS,),
    documents={JOBS: requires("jobId", "status", "createdAt", createdAt="integer")},
    prepare={JOBS: rules.link_dependents},
    lifecycle=Lifecycle(JOBS, lifecycle.lifecycle_step, lifecycle.lifecycle_next, lifecycle.CONFIG_SCHEMA),
)
