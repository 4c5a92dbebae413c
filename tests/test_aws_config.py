"""boto3 and the AWS CLI pointed at cancelgate only through the AWS SDKs' own configuration:
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BATCH / AWS_ENDPOINT_URL_IOT, and a config-file profile
with endpoint_url (global, or per service in a `services` section). No endpoint_url argument."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import boto3
import pytest

from cancelgate.pytest_plugin import free_port

AWS = shutil.which("aws")
BATCH_JOB = "00000000-0000-4000-8000-000000000001"
IOT_JOB = "firmware-update"
CLEAN = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH",
         "AWS_ENDPOINT_URL_IOT", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ACCESS_KEY_ID",
         "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.fixture
def aws_env(tmp_path, monkeypatch):
    """An environment with no AWS configuration but dummy keys in a credentials file of its own."""
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n"
                           "[cancelgate]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n"
                           "[split]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_text("[default]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_PAGER", "")
    return tmp_path


def described(session: boto3.Session) -> tuple[str, str]:
    batch, iot = session.client("batch"), session.client("iot")
    return (batch.describe_jobs(jobs=[BATCH_JOB])["jobs"][0]["jobId"],
            iot.describe_job(jobId=IOT_JOB)["job"]["jobId"])


def cli(*args: str) -> dict:
    run = subprocess.run([AWS, *args, "--output", "json"], env=dict(os.environ), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_aws_endpoint_url_for_every_service(live, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", live.url)
    assert described(boto3.Session()) == (BATCH_JOB, IOT_JOB)
    if AWS:
        assert cli("batch", "describe-jobs", "--jobs", BATCH_JOB)["jobs"][0]["jobId"] == BATCH_JOB
        assert cli("iot", "describe-job", "--job-id", IOT_JOB)["job"]["jobId"] == IOT_JOB


def test_service_specific_variables_win_over_the_global_one(live, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_BATCH", live.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT", live.url)
    assert described(boto3.Session()) == (BATCH_JOB, IOT_JOB)
    if AWS:
        assert cli("batch", "describe-jobs", "--jobs", BATCH_JOB)["jobs"][0]["jobId"] == BATCH_JOB
        assert cli("iot", "describe-job", "--job-id", IOT_JOB)["job"]["jobId"] == IOT_JOB


def test_config_file_profiles(live, aws_env):
    (aws_env / "config").write_text(f"""[default]
region = us-east-1

[profile cancelgate]
region = us-east-1
endpoint_url = {live.url}

[profile split]
region = us-east-1
services = cancelgate-services

[services cancelgate-services]
batch =
  endpoint_url = {live.url}
iot =
  endpoint_url = {live.url}
""")
    for profile in ("cancelgate", "split"):
        assert described(boto3.Session(profile_name=profile)) == (BATCH_JOB, IOT_JOB), profile
        if AWS:
            jobs = cli("--profile", profile, "batch", "describe-jobs", "--jobs", BATCH_JOB)["jobs"]
            assert jobs[0]["jobId"] == BATCH_JOB
            assert cli("--profile", profile, "iot", "describe-job", "--job-id", IOT_JOB)["job"]["jobId"] == IOT_JOB

