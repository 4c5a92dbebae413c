"""cancelgate.Control against the live server: one method per control operationId, kept in step
with openapi/control.yaml by reading the spec."""
from __future__ import annotations

import inspect
import uuid

import pytest
import yaml

from cancelgate import Control, ControlError
from cancelgate.resources import specs_dir

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def control_operation_ids() -> list[str]:
    spec = yaml.safe_load((specs_dir() / "control.yaml").read_text(encoding="utf-8"))
    return sorted(op["operationId"] for item in spec["paths"].values()
                  for method, op in item.items() if method in HTTP_METHODS)


@pytest.mark.parametrize("operation_id", control_operation_ids())
def test_every_control_operation_has_a_method(operation_id):
    method = getattr(Control, operation_id, None)
    assert callable(method), f"cancelgate.Control has no method {operation_id}() for openapi/control.yaml"
    assert inspect.getdoc(method) or operation_id in {"clear_requests", "clear_faults"}


def test_round_trip(live):
    control = Control(live.url)
    assert control.health()["status"] == "ok"
    job_id = str(uuid.uuid4())
    job = control.put_batch_job(job_id, jobName="held", jobQueue="default", jobDefinition="report:1",
                                status="SUBMITTED")
    assert job["jobId"] == job_id and job["status"] == "SUBMITTED"
    transitions = control.advance_clock(3600)
    assert {"family": "batch", "id": job_id, "from": "SUBMITTED", "to": "PENDING"}.items() <= next(
        t for t in transitions if t["id"] == job_id).items()
    assert control.get_clock()["mode"] == "manual"
    execution = control.put_iot_execution("pytest-thing", "pytest-job", status="IN_PROGRESS")
    assert execution["execution"]["status"] == "IN_PROGRESS"
    assert control.put_vault_job(4242, status="QUEUED", vault_id=1776, created_by=12021)["status"] == "QUEUED"
    assert control.put_vault_user("pytest@cancelgate.example", password="pw", vault_id=1776)["vaultId"] == 1776
    control.clear_requests()
    control.health()
    assert [r["operationId"] for r in control.list_requests(operation_id="health")] == ["health"]
    assert control.reset(fixtures=False)["counts"] == {} or sum(control.health()["counts"].values()) == 0


def test_dispatch_and_fault_context_manager(live, batch):
    control = Control(live.url)
    queue = "q" + uuid.uuid4().hex[:8]
    job_id = str(uuid.uuid4())
    control.put_batch_job(job_id, jobName="x", jobQueue=queue, jobDefinition="report:1", status="RUNNABLE")
    assert control.dispatch_batch_queue(queue) == {"jobId": job_id, "status": "STARTING"}
    rule = {"match": {"operationId": "DescribeJobs"}, "fault": {"code": "ServerException"}, "count": 1}
    with control.faults(rule) as rules:
        assert rules[0]["remaining"] == 1
        with pytest.raises(batch.exceptions.ServerException):
            batch.describe_jobs(jobs=[job_id])
        assert control.list_faults()[0]["fired"] == 1
    assert control.list_faults() == []
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "STARTING"


def test_errors_carry_the_problem_detail(live):
    control = Control(live.url)
    with pytest.raises(ControlError) as caught:
        control.dispatch_batch_queue("nothing-queued-" + uuid.uuid4().hex[:6])
    assert caught.value.status == 404 and caught.value.detail and caught.value.problem["status"] == 404
    with pytest.raises(ControlError) as caught:
        control.put_batch_job(str(uuid.uuid4()), status="NOT_A_STATUS")
    assert caught.value.status == 400


def test_unreachable_server_is_a_control_error(tmp_path):
    from cancelgate.pytest_plugin import free_port
    with pytest.raises(ControlError) as caught:
        Control(f"http://127.0.0.1:{free_port()}", timeout=2).health()
    assert caught.value.status == 0 and "cannot reach" in str(caught.value)


def test_admin_token_is_sent(tmp_path):
    from tests.conftest import start_server
    server = start_server(tmp_path, "--admin-token", "s3cret")
    try:
        with pytest.raises(ControlError) as caught:
            Control(server.url).health()
        assert caught.value.status == 401
        assert Control(server.url, token="s3cret").health()["status"] == "ok"
    finally:
        server.stop()
