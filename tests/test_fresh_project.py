"""What a new user does: a fresh virtual environment with only `pip install 'cancelgate[pytest]'`
(from this checkout), a test file using the plugin's fixtures and no code of its own, and pytest."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

USER_TEST = '''
def test_cancel_through_boto3(batch_client, cancelgate):
    job = batch_client.submit_job(jobName="nightly", jobQueue="default", jobDefinition="report:1")
    batch_client.cancel_job(jobId=job["jobId"], reason="not needed")
    assert batch_client.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["status"] == "FAILED"
    assert cancelgate.advance_clock(60) == []


def test_iot_and_vault(iot_client, vault_session, cancelgate):
    cancelgate.put_iot_execution("device-9", "job-9", status="IN_PROGRESS")
    execution = iot_client.describe_job_execution(jobId="job-9", thingName="device-9")["execution"]
    assert execution["status"] == "IN_PROGRESS"
    assert vault_session.get("/services/jobs/1001").json()["responseStatus"] == "SUCCESS"
'''


@pytest.mark.slow
def test_fresh_project_with_only_the_pytest_extra(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              f"{ROOT}[pytest]"], env=env, capture_output=True, text=True, timeout=900)
    if install.returncode != 0:
        pytest.skip(f"pip could not install cancelgate[pytest] here (no package index?): {install.stderr[-1500:]}")
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_jobs.py").write_text(textwrap.dedent(USER_TEST))
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ncancelgate_args = "--no-lifecycle"\n')
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
    # the installed package, not this checkout, served the tests
    where = subprocess.run([str(python), "-c", "import cancelgate; print(cancelgate.__file__)"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=60).stdout
    assert str(venv) in where, where
