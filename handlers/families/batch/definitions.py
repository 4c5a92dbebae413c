"""Job definitions: RegisterJobDefinition, DescribeJobDefinitions, DeregisterJobDefinition, and
how SubmitJob finds the revision a job runs.

Revisions are keyed `<region>/<name>:<revision>`; `names` holds per `<region>/<name>` the latest
revision number and the ACTIVE ones, so a bare name resolves without a scan.
"""
from __future__ import annotations

import re

from cancelgate.errors import ApiError
from cancelgate.families import paging
from cancelgate.families.batch import limits
from cancelgate.families.batch.world import World, name_from

STORED = ("type", "parameters", "schedulingPriority", "containerProperties", "nodeProperties",
          "retryStrategy", "propagateTags", "timeout", "tags", "platformCapabilities", "eksProperties",
          "ecsProperties", "consumableResourceProperties")
REVISION = re.compile(r"^(.+):([0-9]+)$")


def _names(world: World, name: str) -> dict:
    return world.names.get(world.key(name)) or {"latest": 0, "active": []}


def register(world: World, request: dict, now: int) -> dict:
    limits.check(request, limits.JOB_DEFINITION, "Job definition")
    kind = request["type"]
    if kind == "container" and not any(k in request for k in ("containerProperties", "ecsProperties", "eksProperties")):
        raise ApiError("ClientException",
                       "A container job definition needs containerProperties, ecsProperties or eksProperties")
    if kind == "multinode" and "nodeProperties" not in request:
        raise ApiError("ClientException", "A multinode job definition needs nodeProperties")
    name = request["jobDefinitionName"]
    names = _names(world, name)
    revision = names["latest"] + 1
    arn = world.arn("job-definition", f"{name}:{revision}")
    definition = {k: request[k] for k in STORED if k in request}
    definition.update(jobDefinitionName=name, jobDefinitionArn=arn, revision=revision, status="ACTIVE",
                      containerOrchestrationType="EKS" if "eksProperties" in request else "ECS",
                      _region=world.region, _registeredAt=now)
    world.definitions[world.key(f"{name}:{revision}")] = definition
    world.names[world.key(name)] = {"latest": revision, "active": [*names["active"], revision]}
    return {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision}


def _split(world: World, ref: str) -> tuple[str, int | None] | None:
    """(name, revision or None) of a `name`, `name:revision` or ARN; None for a foreign ARN."""
    plain = name_from(ref, "job-definition", world)
    if plain is None:
        return None
    match = REVISION.match(plain)
    return (match.group(1), int(match.group(2))) if match else (plain, None)


def revisions(world: World, name: str) -> list[dict]:
    found = (world.definitions.get(world.key(f"{name}:{n}")) for n in range(1, _names(world, name)["latest"] + 1))
    return [d for d in found if d is not None]


def for_submit(world: World, ref: str) -> dict:
    """The revision SubmitJob runs: the one named, or the latest ACTIVE one of a bare name."""
    split = _split(world, ref)
    if split is None:
        raise ApiError("ClientException", f"JobDefinition {ref} not found.")
    name, revision = split
    if revision is None:
        active = _names(world, name)["active"]
        if not active:
            raise ApiError("ClientException", f"JobDefinition name {name} does not exist or is not in ACTIVE status")
        revision = max(active)
    definition = world.definitions.get(world.key(f"{name}:{revision}"))
    if definition is None:
        raise ApiError("ClientException", f"JobDefinition {ref} not found.")
    if definition["status"] != "ACTIVE":
        raise ApiError("ClientException", f"JobDefinition {definition['jobDefinitionArn']} is INACTIVE")
    return definition


def deregister(world: World, request: dict) -> dict:
    ref = request["jobDefinition"]
    split = _split(world, ref)
    if split is None or split[1] is None:
        raise ApiError("ClientException", f"JobDefinition {ref} not found: name a revision (name:revision or an ARN)")
    name, revision = split
    definition = world.definitions.get(world.key(f"{name}:{revision}"))
    if definition is None:
        raise ApiError("ClientException", f"JobDefinition {ref} not found.")
    if definition["status"] == "ACTIVE":
        world.definitions[world.key(f"{name}:{revision}")] = {**definition, "status": "INACTIVE"}
        names = _names(world, name)
        world.names[world.key(name)] = {**names, "active": [r for r in names["active"] if r != revision]}
    return {}


def public(definition: dict) -> dict:
    return {k: v for k, v in definition.items() if not k.startswith("_")}


def describe(world: World, request: dict) -> dict:
    refs = request.get("jobDefinitions")
    if refs:
        selected = []
        for ref in dict.fromkeys(refs):
            split = _split(world, ref)
            if split is None:
                continue
            name, revision = split
            if revision is None:
                selected += revisions(world, name)
            elif (found := world.definitions.get(world.key(f"{name}:{revision}"))) is not None:
                selected.append(found)
    elif "jobDefinitionName" in request:
        selected = revisions(world, request["jobDefinitionName"])
    else:
        selected = sorted((d for d in world.definitions.values() if d.get("_region") == world.region),
                          key=lambda d: (d["jobDefinitionName"], d["revision"]))
    if request.get("status"):
        selected = [d for d in selected if d["status"] == request["status"]]
    return paging.listed(selected, request.get("nextToken"), request.get("maxResults") or 100,
                         "ClientException", "jobDefinitions", public)
