"""SubmitJob as AWS does it: the queue and job definition by name or ARN, checked; parameters
merged over the definition's; the definition's container with the overrides applied."""
from __future__ import annotations

import math
import re

from cancelgate.errors import ApiError
from cancelgate.families.batch import definitions, limits, queues, rules
from cancelgate.families.batch.world import World

# Overrides are applied to what the job shows; the requests themselves are kept aside (`_`),
# since JobDetail has no such members.
OVERRIDES = ("containerOverrides", "nodeOverrides", "ecsPropertiesOverride", "eksPropertiesOverride",
             "consumableResourcePropertiesOverride")
FROM_DEFINITION = ("retryStrategy", "timeout", "propagateTags", "platformCapabilities", "nodeProperties",
                   "ecsProperties", "eksProperties", "consumableResourceProperties")
MAX_VCPUS = 10_000   # far above any instance AWS has; keeps the queues' sums exact
REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")


def _by(items: list[dict], key: str) -> dict:
    return {item[key]: item for item in items if key in item}


def container(properties: dict, overrides: dict, parameters: dict) -> dict:
    """The container a job runs: the definition's, overridden, `Ref::name` in the command
    replaced by the parameter's value."""
    shown = {**properties}
    for field in ("vcpus", "memory", "instanceType", "command"):
        if field in overrides:
            shown[field] = overrides[field]
    if "environment" in overrides:
        shown["environment"] = list({**_by(properties.get("environment") or [], "name"),
                                     **_by(overrides["environment"], "name")}.values())
    if "resourceRequirements" in overrides:
        shown["resourceRequirements"] = list({**_by(properties.get("resourceRequirements") or [], "type"),
                                              **_by(overrides["resourceRequirements"], "type")}.values())
    if "command" in shown:
        shown["command"] = [REF.sub(lambda m: parameters.get(m.group(1), m.group(0)), part)
                            for part in shown["command"]]
    return shown


def vcpus_of(shown: dict) -> float:
    """The vCPUs a container asks for (resourceRequirements VCPU, else the legacy `vcpus`);
    a value that is no finite number is a ClientException, as AWS answers it."""
    for requirement in shown.get("resourceRequirements") or ():
        if requirement.get("type") == "VCPU":
            try:
                value = float(requirement["value"])
            except ValueError:
                return 1.0
            if not math.isfinite(value) or value > MAX_VCPUS:
                raise ApiError("ClientException",
                               f"resourceRequirements: VCPU value {requirement['value']} is not valid")
            return max(value, 0.0)
    return float(shown.get("vcpus", 1))


def submit_job(world: World, request: dict, now: int, job_id: str) -> dict:
    limits.check(request, limits.JOB_PAYLOAD, "Job")
    queue = queues.accepting(world, request["jobQueue"])
    definition = definitions.for_submit(world, request["jobDefinition"])
    parameters = {**(definition.get("parameters") or {}), **(request.get("parameters") or {})}
    job_request = {**request, "jobQueue": queue["jobQueueName"],
                   "jobDefinition": f"{definition['jobDefinitionName']}:{definition['revision']}"}
    for field in OVERRIDES + ("parameters", "retryStrategy", "timeout", "propagateTags"):
        job_request.pop(field, None)
    if parameters:
        job_request["parameters"] = parameters
    extra: dict = {"_region": world.region}
    for field in FROM_DEFINITION:
        value = request.get(field, definition.get(field))
        if value is not None:
            extra[field] = value
    if "schedulingPriorityOverride" not in request and "schedulingPriority" in definition:
        extra["schedulingPriority"] = definition["schedulingPriority"]
    overrides = {k: request[k] for k in OVERRIDES if k in request}
    if overrides:
        extra["_overrides"] = overrides
    if "containerProperties" in definition:
        shown = container(definition["containerProperties"], request.get("containerOverrides") or {}, parameters)
        extra["container"] = shown
        extra["_vcpus"] = vcpus_of(shown)
    return rules.submit(world.jobs, job_request, now, job_id, lambda jid: world.arn("job", jid), extra)
