"""The Batch world's rules on plain dicts: no server, no framework."""
from __future__ import annotations

import pytest

from cancelgate.errors import ApiError
from cancelgate.families.batch import attempts, definitions, environments, queues, submission
from cancelgate.families.batch.world import World


def empty(region: str = "us-east-1") -> World:
    return World({}, {}, {}, {}, {}, region=region)


def test_glob_has_only_a_trailing_star():
    assert attempts.glob("OutOfMemory*", "OutOfMemoryError") and attempts.glob("137", "137")
    assert not attempts.glob("13?", "137") and not attempts.glob("*Error", "OutOfMemoryError")


@pytest.mark.parametrize("code,reason,expected", [
    (1, "", "RETRY"), (2, "", "EXIT"), (1, "OutOfMemoryError", "EXIT")])
def test_first_matching_rule_decides(code, reason, expected):
    job = {"retryStrategy": {"attempts": 3, "evaluateOnExit": [
        {"onReason": "OutOfMemory*", "action": "EXIT"}, {"onExitCode": "1", "action": "RETRY"},
        {"onExitCode": "*", "action": "exit"}]}, "attempts": [{}]}
    assert attempts.decision(job, code, "Essential container in task exited", reason) == expected


def test_no_retry_once_attempts_are_used_up():
    assert attempts.decision({"retryStrategy": {"attempts": 2}, "attempts": [{}, {}]}, 1, "", "") == "EXIT"
    assert attempts.decision({"attempts": [{}]}, 1, "", "") == "EXIT"   # default: one attempt


def test_definitions_resolve_latest_active_and_refuse_inactive():
    world = empty()
    for image in ("a", "b"):
        definitions.register(world, {"jobDefinitionName": "d", "type": "container",
                                     "containerProperties": {"image": image}}, 0)
    assert definitions.for_submit(world, "d")["revision"] == 2
    definitions.deregister(world, {"jobDefinition": "d:2"})
    assert definitions.for_submit(world, "d")["revision"] == 1
    assert definitions.for_submit(world, "arn:aws:batch:us-east-1:123456789012:job-definition/d:1")["revision"] == 1
    with pytest.raises(ApiError, match="INACTIVE"):
        definitions.for_submit(world, "d:2")
    with pytest.raises(ApiError, match="not found"):   # another region's ARN is not found here
        definitions.for_submit(world, "arn:aws:batch:eu-west-1:123456789012:job-definition/d:1")


def test_container_overrides_merge_and_parameters_fill_the_command():
    shown = submission.container(
        {"image": "i", "command": ["run", "Ref::a", "Ref::missing"], "environment": [{"name": "X", "value": "1"}],
         "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "8"}]},
        {"environment": [{"name": "X", "value": "2"}, {"name": "Y", "value": "3"}],
         "resourceRequirements": [{"type": "VCPU", "value": "4"}]}, {"a": "A"})
    assert shown["command"] == ["run", "A", "Ref::missing"]
    assert shown["environment"] == [{"name": "X", "value": "2"}, {"name": "Y", "value": "3"}]
    assert submission.vcpus_of(shown) == 4.0


def test_queue_capacity_counts_only_enabled_valid_environments():
    world = empty()
    environments.create(world, {"computeEnvironmentName": "e", "type": "MANAGED",
                                "computeResources": {"type": "EC2", "maxvCpus": 6}}, 0)
    queues.create(world, {"jobQueueName": "q", "priority": 1,
                          "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "e"}]}, 0)
    assert queues.capacity_vcpus(world, "q") == 0            # CREATING offers nothing yet
    world.environments["us-east-1/e"] = {**world.environments["us-east-1/e"], "status": "VALID"}
    assert queues.capacity_vcpus(world, "q") == 6
    queues.create(world, {"jobQueueName": "bare", "priority": 1}, 0)
    assert queues.capacity_vcpus(world, "bare") is None      # the lifecycle file's count applies
    assert queues.find(world.in_region("eu-west-1"), "q") is None   # each region its own namespace
