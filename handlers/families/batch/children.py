"""Array children stored as what differs from their parent, shown as the full job.

A child of an array job (`<parent>:<index>`, `arrayProperties.index`) runs what its parent
describes, so SubmitJob stores on it only what is its own or what the engine reads for each job
on its own (queue, region, priority, vCPUs, timeout, name and definition: all of bounded size):
`lean`. Everything that may be large (parameters, the container, overrides, tags, node, ECS and
EKS properties, the retry strategy) stays on the parent alone, and every reader that shows a child
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
# Of those, what each child keeps itself: read per job by the lifecycle, the dispatch order,
# ListJobs filters and summaries, and region checks, without a lookup of the parent.
KEPT = ("jobName", "jobQueue", "jobDefinition", "schedulingPriority", "timeout", "_vcpus", "_region")


def parent_of(job: Job) -> str | None:
    """The parent's id of an array child; None for any other job."""
    if "index" in (job.get("arrayProperties") or {}):
        return job["jobId"].rsplit(":", 1)[0]
    return None


def lean(parent: Job, child_id: str, child_arn: str, index: int, now: int) -> Job:
    """The stored document of a new child of `parent`: O(1) bytes whatever the parent holds."""
    child = {k: parent[k] for k in KEPT if k in parent}
    child.update(jobId=child_id, jobArn=child_arn, status=parent["status"], createdAt=parent["createdAt"],
                 dependsOn=[], arrayProperties={"index": index}, _since=now)
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
    shown.update(job)
    if "container" in parent:
        shown["container"] = {**parent["container"], **(job.get("container") or {})}
    if "tags" in job and not job["tags"]:   # every tag removed from the child itself
        del shown["tags"]
    return shown
