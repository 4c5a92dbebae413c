"""What makes a Batch job document one the rules can serve, for documents from outside (the
control plane's PUT, fixture files): the spec says each field's shape, this says how a job
fits the jobs around it. A job that depends on itself (or on a job depending on it) never
leaves PENDING; a child of no array job, or at an index its parent does not have, is a job no
parent finishes with; each is refused, naming the field, before anything is stored.
"""
from __future__ import annotations

import re
from typing import Iterator

from cancelgate.errors import ApiError

CHILD_ID = re.compile(r"^(?P<parent>.+):(?P<index>0|[1-9][0-9]*)$")

Job = dict


def problems(jobs, job: Job, *, cycles: bool = True) -> Iterator[str]:
    """Why `job`, stored among `jobs`, would be inconsistent: one message per problem, each
    starting with the field it is about. `cycles=False` leaves out the walk through other jobs'
    dependencies (`table_problems` finds cycles in one pass instead)."""
    job_id = job["jobId"]
    props = job.get("arrayProperties") or {}
    if "size" in props and "index" in props:
        yield ("arrayProperties: a job is an array parent (size) or an array child (index), "
               "not both")
        return
    child = CHILD_ID.match(job_id)
    if child is None and ":" in job_id:
        yield f"jobId: {job_id} is not <parent>:<index> with an index without leading zeros"
        return
    if child is None and "index" in props:
        yield (f"arrayProperties.index: only an array child, whose jobId is <parent>:<index>, "
               f"has an index; {job_id} has no :<index>")
        return
    if child is not None:
        parent_id, index = child.group("parent"), int(child.group("index"))
        if "index" not in props:
            yield (f"arrayProperties.index: {job_id} is a child of array job {parent_id} and "
                   f"needs arrayProperties.index {index}")
            return
        if props["index"] != index:
            yield f"arrayProperties.index: {props['index']} does not match the index {index} of jobId {job_id}"
            return
        parent = jobs.get(parent_id)
        parent_props = (parent or {}).get("arrayProperties") or {}
        if parent is None:
            yield f"jobId: there is no array job {parent_id} for {job_id} to be a child of"
            return
        if "size" not in parent_props or "index" in parent_props:
            yield f"jobId: job {parent_id} is not an array job (it has no arrayProperties.size)"
            return
        if index >= parent_props["size"]:
            yield (f"arrayProperties.index: {index} is out of range for array job {parent_id}, "
                   f"whose size is {parent_props['size']}")
            return
    yield from _dependency_problems(jobs, job, child.group("parent") if child else None, cycles)
    yield from _size_problems(jobs, job)


def _dependency_problems(jobs, job: Job, parent_id: str | None, cycles: bool) -> Iterator[str]:
    job_id = job["jobId"]
    named = [d.get("jobId") for d in job.get("dependsOn") or ()]
    if job_id in named:
        yield f"dependsOn: job {job_id} cannot depend on itself"
        return
    if parent_id is not None and parent_id in named:
        yield (f"dependsOn: array child {job_id} cannot depend on its parent {parent_id}, "
               "which finishes only when its children have")
        return
    if "size" in (job.get("arrayProperties") or {}):
        own = [n for n in named if n and n.rsplit(":", 1)[0] == job_id and n != job_id]
        if own:
            yield (f"dependsOn: array job {job_id} cannot depend on its own child {own[0]}, "
                   "which starts only after it does")
            return
    if not cycles:
        return
    # a longer cycle: a job named here that (through dependsOn) depends on this one
    seen: set[str] = set()
    stack = [(n, n) for n in named if n]
    while stack:
        current, via = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        found = jobs.get(current)
        for dependency in (found or {}).get("dependsOn") or ():
            target = dependency.get("jobId")
            if target == job_id:
                yield f"dependsOn: job {via} depends, through dependsOn, on {job_id}: a cycle never finishes"
                return
            if target and target not in seen:
                stack.append((target, via))


def _size_problems(jobs, job: Job) -> Iterator[str]:
    """An array parent replaced keeps every child it has: no child at an index beyond its size."""
    previous = jobs.get(job["jobId"])
    old_size = ((previous or {}).get("arrayProperties") or {}).get("size")
    if not old_size or "index" in (previous.get("arrayProperties") or {}):
        return
    new_size = (job.get("arrayProperties") or {}).get("size") or 0
    for index in range(old_size - 1, new_size - 1, -1):
        if jobs.get(f"{job['jobId']}:{index}") is not None:
            yield (f"arrayProperties.size: array job {job['jobId']} has a child at index {index}; "
                   f"a size of {new_size or 'none'} would leave it without a parent")
            return


def check(jobs, job: Job) -> None:
    """Refuse (400, the control plane's wire) a job inconsistent with the jobs around it."""
    for problem in problems(jobs, job):
        raise ApiError("Bad Request", problem, 400)


def table_problems(jobs: dict[str, Job]) -> Iterator[tuple[str, str]]:
    """(key, problem) for a whole table of jobs (a fixture file): each job as `problems` sees
    it, its key its jobId, and every dependency cycle once, in O(jobs + dependencies)."""
    for key, job in jobs.items():
        if job.get("jobId") != key:
            yield key, f"jobId: {job.get('jobId')!r} is not the key {key!r} the job is stored under"
            continue
        for problem in problems(jobs, job, cycles=False):
            yield key, problem
    state: dict[str, int] = {}      # 1: on the current path, 2: done
    for start in jobs:
        if start in state:
            continue
        path = [(start, iter(_named(jobs, start)))]
        state[start] = 1
        while path:
            node, targets = path[-1]
            target = next(targets, None)
            if target is None:
                state[node] = 2
                path.pop()
            elif state.get(target) == 1:
                yield target, f"dependsOn: job {node} depends, through dependsOn, on {target}: a cycle never finishes"
                return
            elif target not in state and target in jobs:
                state[target] = 1
                path.append((target, iter(_named(jobs, target))))


def _named(jobs, job_id: str) -> list[str]:
    return [d.get("jobId") for d in jobs[job_id].get("dependsOn") or () if d.get("jobId")]
