"""The README's firmware rollout, command for command, with the AWS CLI (`aws iot` and
`aws iot-jobs-data`) on one --endpoint-url."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.test_aws_cli import AWS, aws

pytestmark = pytest.mark.skipif(AWS is None, reason="the awscli test dependency is not installed")


def ok(live, *args: str):
    run = aws(live, *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout) if run.stdout.strip() else {}


def test_cli_rollout_force_cancel_and_the_device_refused(live):
    tag = uuid.uuid4().hex[:6]
    pump1, pump2, job = f"pump-{tag}-1", f"pump-{tag}-2", f"fw-{tag}"
    ok(live, "iot", "create-thing", "--thing-name", pump1)
    ok(live, "iot", "create-thing", "--thing-name", pump2)
    assert httpx.put(f"{live.url}/_cancelgate/iot/things/{pump2}", json={"simulate": False}).status_code == 200
    ok(live, "iot", "create-job", "--job-id", job, "--document", '{"firmware": "3.0"}', "--targets",
       f"arn:aws:iot:us-east-1:123456789012:thing/{pump1}", f"arn:aws:iot:us-east-1:123456789012:thing/{pump2}")
    started = ok(live, "iot-jobs-data", "start-next-pending-job-execution", "--thing-name", pump1)["execution"]
    assert (started["status"], started["versionNumber"], started["jobDocument"]) == (
        "IN_PROGRESS", 2, '{"firmware": "3.0"}')
    state = ok(live, "iot-jobs-data", "update-job-execution", "--thing-name", pump1, "--job-id", job,
               "--status", "IN_PROGRESS", "--status-details", "progress=50%", "--expected-version", "2",
               "--include-job-execution-state")["executionState"]
    assert state == {"status": "IN_PROGRESS", "statusDetails": {"progress": "50%"}, "versionNumber": 3}
    ok(live, "iot", "cancel-job", "--job-id", job, "--force", "--reason-code", "FIRMWARE_RECALL",
       "--comment", "3.0 bricks the pumps")
    refused = aws(live, "iot-jobs-data", "update-job-execution", "--thing-name", pump1, "--job-id", job,
                  "--status", "SUCCEEDED")
    assert refused.returncode != 0 and "InvalidStateTransitionException" in refused.stderr
    assert ok(live, "iot-jobs-data", "get-pending-job-executions", "--thing-name", pump2) == {
        "inProgressJobs": [], "queuedJobs": []}
    described = ok(live, "iot", "describe-job", "--job-id", job)["job"]
    assert (described["status"], described["forceCanceled"], described["reasonCode"]) == (
        "CANCELED", True, "FIRMWARE_RECALL")
