"""Compute environments: CreateComputeEnvironment, Describe, Update, Delete.

A document is the environment as DescribeComputeEnvironments shows it, plus `_region` and
`_since` (when it entered its status). CREATING and UPDATING become VALID, DELETING becomes
DELETED, on the clock (lifecycle.environment_step); a DELETED environment is shown only when
named and its name may be used again.
"""
from __future__ import annotations

import uuid

from cancelgate.errors import ApiError
from cancelgate.families import paging
from cancelgate.families.batch.world import World, name_from

SETTLING = {"CREATING": "VALID", "UPDATING": "VALID", "DELETING": "DELETED"}
CREATE_FIELDS = ("type", "state", "unmanagedvCpus", "computeResources", "serviceRole", "tags",
                 "eksConfiguration", "context", "ecsSettings")
# ComputeResourceUpdate members that ComputeResource also has (the rest only steer an update)
RESOURCE_FIELDS = ("minvCpus", "maxvCpus", "desiredvCpus", "subnets", "securityGroupIds",
                   "allocationStrategy", "instanceTypes", "ec2KeyPair", "instanceRole", "tags",
                   "placementGroup", "bidPercentage", "launchTemplate", "ec2Configuration", "type",
                   "imageId", "scalingPolicy", "managedInstancesProvider", "capacityTags")
FARGATE = ("FARGATE", "FARGATE_SPOT")


def find(world: World, ref: str) -> dict | None:
    """The environment a name or ARN names in this region (DELETED ones included)."""
    name = name_from(ref, "compute-environment", world)
    return None if name is None else world.environments.get(world.key(name))


def existing(world: World, ref: str) -> dict:
    env = find(world, ref)
    if env is None or env["status"] == "DELETED":
        raise ApiError("ClientException", f"ComputeEnvironment {ref} does not exist")
    return env


def create(world: World, request: dict, now: int) -> dict:
    name = request["computeEnvironmentName"]
    previous = world.environments.get(world.key(name))
    if previous is not None and previous["status"] != "DELETED":
        raise ApiError("ClientException", "Object already exists")
    kind = request["type"]
    resources = request.get("computeResources")
    if kind == "MANAGED" and resources is None:
        raise ApiError("ClientException", "computeResources must be provided for a MANAGED compute environment")
    if kind == "UNMANAGED" and resources is not None:
        raise ApiError("ClientException", "computeResources cannot be provided for an UNMANAGED compute environment")
    if resources is not None and resources["maxvCpus"] < resources.get("minvCpus", 0):
        raise ApiError("ClientException", "maxvCpus must be greater than or equal to minvCpus")
    env = {k: request[k] for k in CREATE_FIELDS if k in request}
    env.setdefault("state", "ENABLED")
    arn = world.arn("compute-environment", name)
    env.update(computeEnvironmentName=name, computeEnvironmentArn=arn, status="CREATING",
               statusReason="Compute environment is being created",
               ecsClusterArn=(f"arn:aws:ecs:{world.region}:{world.account}:cluster/"
                              f"{name}_Batch_{uuid.uuid5(uuid.NAMESPACE_URL, arn).hex[:12]}"),
               containerOrchestrationType="EKS" if "eksConfiguration" in request else "ECS",
               uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}@{now}")),
               _region=world.region, _since=now)
    world.environments[world.key(name)] = env
    return {"computeEnvironmentName": name, "computeEnvironmentArn": arn}


def update(world: World, request: dict, now: int) -> dict:
    env = existing(world, request["computeEnvironment"])
    if env["status"] in ("CREATING", "DELETING"):
        raise ApiError("ClientException",
                       f"Cannot update, compute environment {env['computeEnvironmentName']} is {env['status']}")
    changed = {**env}
    for field in ("state", "unmanagedvCpus", "serviceRole", "updatePolicy", "context", "ecsSettings"):
        if field in request:
            changed[field] = request[field]
    if "computeResources" in request:
        if "computeResources" not in env:
            raise ApiError("ClientException", "computeResources cannot be updated on an UNMANAGED compute environment")
        resources = {**env["computeResources"],
                     **{k: v for k, v in request["computeResources"].items() if k in RESOURCE_FIELDS}}
        if resources["maxvCpus"] < resources.get("minvCpus", 0):
            raise ApiError("ClientException", "maxvCpus must be greater than or equal to minvCpus")
        changed["computeResources"] = resources
    changed.update(status="UPDATING", statusReason="Compute environment is being updated", _since=now)
    world.environments[world.key(env["computeEnvironmentName"])] = changed
    return {"computeEnvironmentName": env["computeEnvironmentName"],
            "computeEnvironmentArn": env["computeEnvironmentArn"]}


def delete(world: World, request: dict, now: int) -> dict:
    env = existing(world, request["computeEnvironment"])
    if env["state"] != "DISABLED":
        raise ApiError("ClientException", "Cannot delete, found existing compute environment in ENABLED state; "
                                          "disable it first")
    # queues are few (AWS allows 50 per region): this scan of them never touches the jobs
    using = [q["jobQueueName"] for q in world.queues.values()
             if q.get("_region") == world.region and q["status"] != "DELETED"
             and any(e["computeEnvironment"] == env["computeEnvironmentArn"] for e in q["computeEnvironmentOrder"])]
    if using:
        raise ApiError("ClientException",
                       f"Cannot delete, found existing JobQueue relationship ({', '.join(sorted(using))})")
    if env["status"] != "DELETING":
        world.environments[world.key(env["computeEnvironmentName"])] = {
            **env, "status": "DELETING", "statusReason": "Compute environment is being deleted", "_since": now}
    return {}


def public(env: dict) -> dict:
    return {k: v for k, v in env.items() if not k.startswith("_")}


def describe(world: World, request: dict) -> dict:
    names = request.get("computeEnvironments")
    if names:
        found = [find(world, ref) for ref in dict.fromkeys(names)]
        selected = [env for env in found if env is not None]
    else:
        selected = sorted((env for env in world.environments.values()
                           if env.get("_region") == world.region and env["status"] != "DELETED"),
                          key=lambda env: env["computeEnvironmentName"])
    return paging.listed(selected, request.get("nextToken"), request.get("maxResults") or 100,
                         "ClientException", "computeEnvironments", public)


def vcpus(world: World, env_ref: str) -> int:
    """What an environment adds to its queues' capacity: maxvCpus while ENABLED and VALID."""
    env = find(world, env_ref)
    if env is None or env["state"] != "ENABLED" or env["status"] != "VALID":
        return 0
    if "computeResources" in env:
        return int(env["computeResources"].get("maxvCpus", 0))
    return int(env.get("unmanagedvCpus", 0))
