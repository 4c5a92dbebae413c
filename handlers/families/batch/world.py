"""The tables a Batch rule works on, and the region and account it answers for.

Each region is its own namespace, as in AWS: queues, compute environments and job definitions
are keyed `<region>/<name>` (definition revisions `<region>/<name>:<revision>`); jobs keep their
id as key (ids are UUIDs) and carry `_region` (absent: us-east-1, as fixture jobs are written),
checked on every lookup by id. Nothing here scans a table.
"""
from __future__ import annotations

import re
from typing import Any, Callable

DEFAULT_REGION = "us-east-1"
ARN = re.compile(r"^arn:aws[a-z-]*:batch:([a-z0-9-]+):(\d{12}):([a-z-]+)/(.+)$")


TABLE_FIELDS = ("jobs", "environments", "queues", "definitions", "names")


class World:
    """The tables (`jobs`, `environments`, `queues`, `definitions`, and `names`: <region>/<definition
    name> -> {"latest": n, "active": [revisions]}), given, or each opened on first use by
    `open_table(field)`: a CancelJob uses one table of the five, and opening one has a cost on
    every backend."""

    def __init__(self, jobs: Any = None, environments: Any = None, queues: Any = None, definitions: Any = None,
                 names: Any = None, region: str = DEFAULT_REGION, account: str = "123456789012", *,
                 open_table: Callable[[str], Any] | None = None):
        for name, table in zip(TABLE_FIELDS, (jobs, environments, queues, definitions, names), strict=True):
            if table is not None:
                setattr(self, name, table)
        self.region = region
        self.account = account
        self.open_table = open_table

    def __getattr__(self, name: str) -> Any:
        open_table = self.__dict__.get("open_table")
        if name not in TABLE_FIELDS or open_table is None:
            raise AttributeError(name)
        table = open_table(name)
        setattr(self, name, table)
        return table

    def key(self, name: str) -> str:
        return f"{self.region}/{name}"

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:batch:{self.region}:{self.account}:{kind}/{name}"

    def in_region(self, region: str) -> "World":
        return World(*(self.__dict__.get(name) for name in TABLE_FIELDS), region, self.account,
                     open_table=self.open_table)

    def has_job(self, job_id: str) -> bool:
        """Whether this region has a job with this id (nothing is copied)."""
        job = self.jobs.peek(job_id)
        return job is not None and job.get("_region", DEFAULT_REGION) == self.region

    def job(self, job_id: str) -> dict | None:
        """The job of this region with this id (None for another region's)."""
        job = self.jobs.get(job_id)
        if job is None or job.get("_region", DEFAULT_REGION) != self.region:
            return None
        return job


def region_of(job: dict) -> str:
    return job.get("_region", DEFAULT_REGION)


def name_from(ref: str, kind: str, world: World) -> str | None:
    """The name a `name` or ARN of `kind` (job-queue, compute-environment, job-definition)
    refers to in this world's region and account; None for an ARN of another kind, region or
    account (which AWS answers as not found)."""
    if not ref.startswith("arn:"):
        return ref
    match = ARN.match(ref)
    if not match or match.group(3) != kind or match.group(1) != world.region or match.group(2) != world.account:
        return None
    return match.group(4)
