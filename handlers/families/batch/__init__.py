"""AWS Batch (openapi/batch.yaml): jobs and what they run in, as orchestration code sees it:
compute environments, job queues, job definitions, jobs (seeds 001, 002 for cancel and terminate)."""
from __future__ import annotations

from cancelgate.families.batch import indexes, lifecycle, rules, world
from cancelgate.families.family import Family, Lifecycle, requires

JOBS = "batch_jobs"
ENVIRONMENTS = "batch_compute_environments"
QUEUES = "batch_job_queues"
DEFINITIONS = "batch_job_definitions"
DEFINITION_NAMES = "batch_job_definition_names"
TABLES = (JOBS, ENVIRONMENTS, QUEUES, DEFINITIONS, DEFINITION_NAMES)
WORLD_TABLES = dict(zip(world.TABLE_FIELDS, TABLES, strict=True))   # World's field -> the table


def world_of(tx, region: str = "us-east-1", account: str = "123456789012", shared: bool = False):
    return world.World(region=region, account=account,
                       open_table=lambda name: tx.table(WORLD_TABLES[name], shared))


def lifecycle_world(tx):
    """The lifecycle's world: its rules build new documents and never change one they read,
    so the store hands them its own (Tx.table `shared`), a copy less per job moved."""
    return world_of(tx, shared=True)


def prepared_jobs(docs: dict) -> dict:
    """Fixture jobs: refused (the server does not start) if inconsistent, then linked."""
    from cancelgate.errors import ConfigError
    from cancelgate.families.batch import consistency
    for key, problem in consistency.table_problems(docs):
        raise ConfigError(f"{JOBS}/{key}: {problem}")
    return rules.link_dependents(docs)


def regional(docs: dict) -> dict:
    """Fixtures are written as AWS shows them, keyed `<region>/<name>`: add the region field."""
    return {key: {**doc, "_region": key.split("/", 1)[0]} for key, doc in docs.items()}


FAMILY = Family(
    name="batch",
    tables=TABLES,
    documents={
        JOBS: requires("jobId", "status", "createdAt", createdAt="integer"),
        ENVIRONMENTS: requires("computeEnvironmentName", "computeEnvironmentArn", "type", "state", "status",
                               ),
        QUEUES: requires("jobQueueName", "jobQueueArn", "state", "status", "priority", "computeEnvironmentOrder",
                         priority="integer", computeEnvironmentOrder="array"),
        DEFINITIONS: requires("jobDefinitionName", "jobDefinitionArn", "revision", "type", "status",
                              revision="integer"),
        DEFINITION_NAMES: requires("latest", "active", latest="integer", active="array"),
    },
    prepare={JOBS: prepared_jobs, ENVIRONMENTS: regional, QUEUES: regional, DEFINITIONS: regional},
    lifecycle=Lifecycle(JOBS, lifecycle.lifecycle_step, lifecycle.lifecycle_next, lifecycle.CONFIG_SCHEMA,
                        view=lifecycle_world, unseen=lifecycle.unseen),
    indexes={JOBS: indexes.INDEXES},
)
