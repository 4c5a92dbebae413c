"""The AWS CLI itself, pointed at the live server with --endpoint-url."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

AWS = shutil.which("aws")
pytestmark = pytest.mark.skipif(AWS is None, reason="the awscli test dependency is not installed")


def aws(live, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run([AWS, *args, "--endpoint-url", live.url, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_cancels_and_describes_a_batch_job(live):
    job = "00000000-0000-4000-8000-000000000002"   # PENDING, no dependencies
    cancelled = aws(live, "batch", "cancel-job", "--job-id", job, "--reason", "from the CLI")
    assert cancelled.returncode == 0, cancelled.stderr
    described = aws(live, "batch", "describe-jobs", "--jobs", job)
    assert described.returncode == 0, described.stderr
    (detail,) = json.loads(described.stdout)["jobs"]
    assert (detail["status"], detail["isCancelled"], detail["statusReason"]) == ("FAILED", True, "from the CLI")


def test_cli_reports_client_exception(live):
    # AWS answers 200 for any job id it does not know; a reason over 1024 characters is refused
    refused = aws(live, "batch", "cancel-job", "--job-id", "not-a-job-id", "--reason", "x" * 1025)
    assert refused.returncode != 0
    assert "ClientException" in refused.stderr


def test_cli_force_cancels_an_iot_execution(live):
    canceled = aws(live, "iot", "cancel-job-execution", "--thing-name", "device-2", "--job-id", "firmware-update",
                   "--force")
    assert canceled.returncode == 0, canceled.stderr
    described = aws(live, "iot", "describe-job-execution", "--thing-name", "device-2", "--job-id", "firmware-update")
    execution = json.loads(described.stdout)["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", True)
    refused = aws(live, "iot", "cancel-job-execution", "--thing-name", "device-2", "--job-id", "firmware-update")
    assert refused.returncode != 0 and "InvalidStateTransitionException" in refused.stderr
