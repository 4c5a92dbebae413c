"""The pytest plugin as a user's project meets it: a test file with no code of its own to start
anything, run by pytest in a folder of its own (the plugin comes in through its entry point)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

USER_TESTS = '''
import uuid

import pytest


def test_submit_cancel_describe(batch_client, cancelgate):
    job = batch_client.submit_job(jobName="nightly", jobQueue="default", jobDefinition="report:1")
    batch_client.cancel_job(jobId=job["jobId"], reason="not needed")
    described = batch_client.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
    assert (described["status"], described["isCancelled"]) == ("FAILED", True)
    assert cancelgate.get_clock()["mode"] == "manual"


def test_state_is_reset_between_tests(batch_client):
    listed = batch_client.list_jobs(jobQueue="default", filters=[{"name": "JOB_NAME", "values": ["nightly"]}])
    assert listed["jobSummaryList"] == []


def test_journal_holds_this_tests_calls(batch_client, cancelgate):
    batch_client.list_jobs(jobQueue="default")
    assert [r["operationId"] for r in cancelgate.list_requests() if r["family"] == "batch"] == ["ListJobs"]


def test_clock_and_iot(iot_client, cancelgate):
    cancelgate.put_iot_execution("thing-1", "job-1", status="IN_PROGRESS")
    execution = iot_client.describe_job_execution(jobId="job-1", thingName="thing-1")["execution"]
    assert execution["status"] == "IN_PROGRESS"
    assert iot_client.meta.config.retries["total_max_attempts"] == 1


def test_faults_context_manager(batch_client, cancelgate):
    with cancelgate.faults({"match": {"operationId": "DescribeJobs"}, "fault": {"code": "ServerException"}}):
        with pytest.raises(batch_client.exceptions.ServerException):
            batch_client.describe_jobs(jobs=[str(uuid.uuid4())])
    assert batch_client.describe_jobs(jobs=[str(uuid.uuid4())])["jobs"] == []


def test_vault_session(vault_session):
    answer = vault_session.get("/services/jobs/1001").json()
    assert answer["responseStatus"] == "SUCCESS", answer


def test_jobs_data_client_is_ready(iot_jobs_data_client, cancelgate_server):
    assert iot_jobs_data_client.meta.endpoint_url == cancelgate_server.url


@pytest.mark.cancelgate(fixtures=False, clock="real")
def test_marked_server_is_dedicated(cancelgate, cancelgate_server):
    assert cancelgate.url != cancelgate_server.url
    assert cancelgate.get_clock()["mode"] == "real"
    assert sum(cancelgate.health()["counts"].values()) == 0


@pytest.mark.cancelgate(fixtures=False)
def test_vault_session_without_fixtures(vault_session):
    assert vault_session.headers["Authorization"]
'''


def run_user_project(tmp_path, tests: str, ini: str = "") -> subprocess.CompletedProcess:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(tests))
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_fixtures_in_a_users_project(tmp_path):
    run = run_user_project(tmp_path, USER_TESTS)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 passed" in run.stdout


def test_ini_options_reach_the_server(tmp_path):
    run = run_user_project(tmp_path, '''
        def test_options(cancelgate, cancelgate_server):
            assert sum(cancelgate.health()["counts"].values()) == 0
            assert "--no-lifecycle" in cancelgate_server.process.args
            assert cancelgate_server.token == "t0ken"
    ''', ini="cancelgate_fixtures = false\ncancelgate_args = --no-lifecycle\ncancelgate_admin_token = t0ken\n")
    assert run.returncode == 0, run.stdout + run.stderr


def test_plugin_imports_without_boto3(tmp_path):
    """A project without boto3 can load the plugin; only the client fixtures need it."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['boto3'] = None\nsys.modules['httpx'] = None\n")
    run = subprocess.run(
        [sys.executable, "-c", "import cancelgate.pytest_plugin, cancelgate; print(cancelgate.Control)"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    (tmp_path / "conftest.py").write_text("import sys\nsys.modules['boto3'] = None\n")
    run = run_user_project(tmp_path, '''
        def test_needs_boto3(batch_client):
            pass
    ''')
    assert run.returncode == 1
    assert "the cancelgate client fixtures need boto3: pip install 'cancelgate[pytest]'" in run.stdout
