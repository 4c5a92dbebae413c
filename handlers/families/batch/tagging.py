"""TagResource, UntagResource, ListTagsForResource: tags on jobs, job queues, compute
environments and job definition revisions, found by ARN without a scan."""
from __future__ import annotations

from cancelgate.errors import ApiError
from cancelgate.families.batch import children
from cancelgate.families.batch.world import ARN, World

MAX_TAGS = 50


def _locate(world: World, arn: str) -> tuple[object, str]:
    """(table, key) of the resource an ARN names in this region and account."""
    match = ARN.match(arn)
    if match and match.group(1) == world.region and match.group(2) == world.account:
        kind, name = match.group(3), match.group(4)
        if kind == "job":
            if world.job(name) is not None:
                return world.jobs, name
        else:
            table = {"job-queue": world.queues, "compute-environment": world.environments,
                     "job-definition": world.definitions}.get(kind)
            if table is not None and (doc := table.get(world.key(name))) is not None \
                    and doc.get("status") not in ("DELETED",):
                return table, world.key(name)
    raise ApiError("ClientException", f"Resource {arn} not found.")


def _tags(world: World, table, doc: dict) -> dict:
    """The tags a resource shows: an array child's are its parent's until it has its own."""
    return (children.view(world.jobs, doc) if table is world.jobs else doc).get("tags") or {}


def list_tags(world: World, arn: str) -> dict:
    table, key = _locate(world, arn)
    return {"tags": _tags(world, table, table.get(key))}


def tag(world: World, arn: str, tags: dict) -> dict:
    table, key = _locate(world, arn)
    doc = table.get(key)
    merged = {**_tags(world, table, doc), **tags}
    if len(merged) > MAX_TAGS:
        raise ApiError("ClientException", f"A resource can have at most {MAX_TAGS} tags")
    table[key] = {**doc, "tags": merged}
    return {}


def untag(world: World, arn: str, keys: list[str]) -> dict:
    table, key = _locate(world, arn)
    doc = table.get(key)
    left = {k: v for k, v in _tags(world, table, doc).items() if k not in keys}
    changed = {k: v for k, v in doc.items() if k != "tags"}
    if left or children.parent_of(doc) is not None:   # a child's {} hides its parent's tags
        changed["tags"] = left
    table[key] = changed
    return {}
