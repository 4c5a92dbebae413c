"""Array children stored as what differs from their parent, shown as the full job.

A child of an array job (`<parent>:<index>`, `arrayProperties.index`) runs what its parent
describes, so SubmitJob stores on it only what is its own or what the engine reads for each job
on its own (queue, priority, timeout, region and vCPUs, times: all of bounded size): `lean`.
Everything that may be large (parameters, the container, overrides, tags, node, ECS and EKS
properties, the retry strategy) and what follows from the parent (ARN, name, definition) stays
on the parent alone, and every reader that shows a child
or reads one of those fields of it goes through `view`: the parent's inherited fields overlaid by
the child's own. Children written by older servers (full copies) read the same way, their own
fields winning. Standard library only, as the rules are.
"""
from __future__ import annotations

from typing import Any

Job = dict[str, Any]

# The fields a child takes from its parent when it has none of its own.
INHERITED = ("jobName", "jobQueue", "jobDefinition", "shareIdentifier", "parameters", "retryStrategy",
             "propagateTags", "timeout", "tags", "schedulingPriority", "platformCapabilities",
             "nodeProperties", "ecsProperties", "eksProperties", "consumableResourceProperties",
             "container", "containerOverrides", "_overrides", "_vcpus", "_region")
# Of those, what each child keeps itself: what the lifecycle, the dispatch order and region
# checks read of every job without a lookup of its parent. `_region` and `_vcpus` only where
# they differ from what their absence means (us-east-1, 1 vCPU).
KEPT = ("jobQueue", "schedulingPriority", "timeout")
DEFAULTS = {"_region": "us-east-1", "_vcpus": 1.0}


def parent_of(job: Job) -> str | None:
    """The parent's id of an array child; None for any other job."""
    if "index" in (job.get("arrayProperties") or {}):
        return job["jobId"].rsplit(":", 1)[0]
    return None


def lean(parent: Job, child_id: str, index: int, now: int) -> Job:
    """The stored document of a new child of `parent`: O(1) bytes whatever the parent holds
    (its ARN, name, definition and empty `dependsOn` are shown from the parent's)."""
    child = {k: parent[k] for k in KEPT if k in parent}
    child.update({k: parent[k] for k, default in DEFAULTS.items() if parent.get(k, default) != default})
    child.update(jobId=child_id, status=parent["status"], createdAt=parent["createdAt"],
                 arrayProperties={"index": index}, _since=now)
    return child


def view(jobs, job: Job, parent: Job | None = None) -> Job:
    """`job` with what it inherits from its parent (`parent`, when the caller has it already):
    the full job to show or to read an inherited field of. Any other job is returned as is."""
    parent_job_id = parent_of(job)
    if parent_job_id is None:
        return job
    if parent is None:
        parent = jobs.get(parent_job_id)
    if parent is None:
        return job
    shown = {k: parent[k] for k in INHERITED if k in parent}
    if "jobArn" in parent:
        shown["jobArn"] = parent["jobArn"] + job["jobId"][len(parent_job_id):]
    shown["dependsOn"] = []
    shown.update(job)
    if "container" in parent:
        shown["container"] = {**parent["container"], **(job.get("container") or {})}
    if "tags" in job and not job["tags"]:   # every tag removed from the child itself
        del shown["tags"]
    return shown
