"""Real orchestration clients, unchanged, against the live server: Metaflow's BatchClient and
Airflow's BatchClientHook (apache-airflow-providers-amazon), each installed into a venv the test
makes under tmp_path (skipped, with the reason, when the install fails). They reach the server
through AWS_ENDPOINT_URL_BATCH, as a user points them at it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import aws_client

INSTALL_TIMEOUT_S = 900


def venv_with(tmp_path: Path, *packages: str) -> Path:
    """A venv over this interpreter's site-packages with `packages` installed; its python
    (once per module and client, whichever store backend the live tests run on)."""
    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(folder)], check=True)
    python = folder / "bin" / "python"
    try:
        install = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages],
                                 capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {' '.join(packages)} took over {INSTALL_TIMEOUT_S} s")
    if install.returncode != 0:
        pytest.skip(f"pip install {' '.join(packages)} failed: {install.stderr[-500:]}")
    return python


@pytest.fixture(scope="module")
def metaflow(tmp_path_factory) -> Path:
    return venv_with(tmp_path_factory.mktemp("metaflow"), "metaflow")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Path:
    # the provider needs Airflow itself (a few minutes to install; the hook imports airflow core)
    return venv_with(tmp_path_factory.mktemp("airflow"), "apache-airflow-providers-amazon")


def run(python: Path, url: str, script: str, **env: str) -> dict:
    """Run `script` in the client's venv, pointed at the server; the JSON it prints last."""
    environment = {**os.environ, "AWS_ENDPOINT_URL_BATCH": url, "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                   "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost", **env}
    done = subprocess.run([str(python), "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=300, env=environment)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def advance(url: str, seconds: float) -> None:
    httpx.post(f"{url}/_cancelgate/clock/advance", json={"seconds": seconds}).raise_for_status()


def fresh_queue(live, max_vcpus: int = 8) -> str:
    """A queue with room of its own (the fixture queues are busy with fixture jobs), VALID."""
    batch = aws_client("batch", live.url)
    name = f"q-{uuid.uuid4().hex[:8]}"
    env = batch.create_compute_environment(
        computeEnvironmentName=f"env-{name}", type="MANAGED",
        computeResources={"type": "EC2", "maxvCpus": max_vcpus, "subnets": ["subnet-1"]})["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=name, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
    advance(live.url, 5)
    return name


METAFLOW_LAUNCH = """
    import json, sys
    from metaflow.plugins.aws.batch.batch_client import BatchClient
    queue = sys.argv[1] if len(sys.argv) > 1 else {queue!r}
    client = BatchClient()
    active = sorted(client.active_job_queues())
    role = "arn:aws:iam::123456789012:role/metaflow"
    job = (client.job().job_name("metaflow-step").job_queue(queue).image("python:3.11").iam_role(role)
           .job_def("python:3.11", role, queue, None, None, None, None, None, None, 4096, None, None,
                    False, None, None, None, 0, None, None, None, False)
           .command(["bash", "-c", "echo hello\\nfrom metaflow"]).cpu(1).memory(4096)
           .environment_variable("METAFLOW_FLOW", "HelloFlow").timeout_in_secs(600).attempts(1)
           .tag("app", "metaflow"))
    running = job.execute()
    print(json.dumps({{"id": running.id, "status": running.status, "active": active,
                      "definition": job.payload["jobDefinition"]}}))
"""

METAFLOW_KILL = """
    import json, time
    from metaflow.plugins.aws.batch.batch_client import BatchClient
    job = BatchClient().attach_job({job_id!r})
    before = job.status
    job.kill()
    for _ in range(40):   # bounded: Metaflow throttles describe_jobs to one call a second
        if job.is_done:
            break
        time.sleep(0.5)
    print(json.dumps({{"before": before, "status": job.status, "code": job.status_code,
                      "crashed": job.is_crashed, "terminated": job.info.get("isTerminated"),
                      "reason": job.status_reason, "queue": job.job_queue}}))
"""


def test_metaflow_batch_client_launches_a_job_and_kills_it(live, metaflow):
    python = metaflow
    queue = fresh_queue(live)
    launched = run(python, live.url, METAFLOW_LAUNCH.format(queue=queue))
    assert {"default", "gpu", queue} <= set(launched["active"])
    assert launched["status"] == "SUBMITTED"
    assert launched["definition"].startswith("arn:aws:batch:us-east-1:123456789012:job-definition/metaflow_")
    advance(live.url, 5)   # SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING
    killed = run(python, live.url, METAFLOW_KILL.format(job_id=launched["id"]))
    assert killed["before"] == "RUNNING"
    assert (killed["status"], killed["crashed"], killed["terminated"]) == ("FAILED", True, True)
    assert killed["code"] == 143
    assert killed["reason"] == "Metaflow initiated job termination."
    assert killed["queue"] == f"arn:aws:batch:us-east-1:123456789012:job-queue/{queue}"
    # a second launch with the same definition finds it (DescribeJobDefinitions by name, ACTIVE)
    again = run(python, live.url, METAFLOW_LAUNCH.format(queue=queue))
    assert again["definition"] == launched["definition"]


AIRFLOW = """
    import json
    from airflow.exceptions import AirflowException
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
    hook = BatchClientHook(aws_conn_id=None, region_name="us-east-1")
    done, running = {done!r}, {running!r}
    hook.wait_for_job(done, delay=0.1)
    answer = {{"succeeded": hook.check_job_success(done), "done_logs": hook.get_job_awslogs_info(done),
              "running_logs": hook.get_job_awslogs_info(running)}}
    hook.terminate_job(running, "stopped by airflow")
    hook.wait_for_job(running, delay=0.1)
    try:
        hook.check_job_success(running)
    except AirflowException as error:
        answer["failure"] = str(error)
    answer["killed"] = hook.get_job_description(running)
    print(json.dumps(answer))
"""


def test_airflow_batch_client_hook_waits_reads_log_streams_and_terminates(live, airflow, tmp_path):
    queue = fresh_queue(live)
    batch = aws_client("batch", live.url)
    done = batch.submit_job(jobName="airflow-done", jobQueue=queue, jobDefinition="report")["jobId"]
    advance(live.url, 30)    # SUCCEEDED
    running = batch.submit_job(jobName="airflow-running", jobQueue=queue, jobDefinition="report:1")["jobId"]
    advance(live.url, 5)     # RUNNING
    answer = run(airflow, live.url, AIRFLOW.format(done=done, running=running),
                 AIRFLOW_HOME=str(tmp_path / "airflow-home"))
    assert answer["succeeded"] is True
    stream = answer["done_logs"]["awslogs_stream_name"]
    assert stream.startswith("report/default/") and len(stream.rsplit("/", 1)[1]) == 32
    assert answer["done_logs"]["awslogs_group"] == "/aws/batch/job"
    assert answer["done_logs"]["awslogs_region"] == "us-east-1"
    assert answer["running_logs"]["awslogs_stream_name"].startswith("report/default/")
    assert "failed" in answer["failure"]
    killed = answer["killed"]
    assert (killed["status"], killed["isTerminated"], killed["statusReason"]) == ("FAILED", True, "stopped by airflow")
    assert killed["attempts"][-1]["container"]["exitCode"] == 143
