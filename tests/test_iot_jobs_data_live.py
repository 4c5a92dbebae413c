"""The IoT jobs data plane from the device's side, with boto3's `iot-jobs-data` client, next to
the control plane's `iot` client on the same URL (seed 003: a forced cancel leaves the device
unable to update its execution)."""
from __future__ import annotations

import uuid

import boto3
import httpx
import pytest

from tests.conftest import aws_client, start_server

ARN = "arn:aws:iot:us-east-1:123456789012:thing/{}"
DATA_HOST = "data.jobs.iot.us-east-1.amazonaws.com"


@pytest.fixture
def device(live):
    return aws_client("iot-jobs-data", live.url)


def fresh(iot, count: int = 2, jobs: int = 1, document: str = '{"firmware": "2.1"}'):
    """New things (each a target of `jobs` new jobs, created in order) so tests never share state."""
    tag = uuid.uuid4().hex[:8]
    things = [f"dev-{tag}-{n}" for n in range(count)]
    for thing in things:
        iot.create_thing(thingName=thing)
    job_ids = [f"fw-{tag}-{n}" for n in range(jobs)]
    for job in job_ids:
        iot.create_job(jobId=job, targets=[ARN.format(t) for t in things], document=document)
    return things, job_ids


def pending_ids(device, thing: str) -> tuple[list[str], list[str]]:
    answer = device.get_pending_job_executions(thingName=thing)
    return [j["jobId"] for j in answer["inProgressJobs"]], [j["jobId"] for j in answer["queuedJobs"]]


def raw_state_error(url: str, thing: str, job: str, body: dict) -> httpx.Response:
    """The same update unsigned, at the data plane's host: the error body as sent."""
    return httpx.post(f"{url}/things/{thing}/jobs/{job}", json=body, headers={"Host": DATA_HOST})


# --- the rollout ---------------------------------------------------------------------------

def test_rollout_device_takes_job_operator_force_cancels_device_is_refused(live, iot, device):
    (first, second), (job,) = fresh(iot)
    assert pending_ids(device, first) == ([], [job])

    started = device.start_next_pending_job_execution(thingName=first, statusDetails={"step": "download"})
    execution = started["execution"]
    assert (execution["jobId"], execution["status"], execution["thingName"]) == (job, "IN_PROGRESS", first)
    assert execution["jobDocument"] == '{"firmware": "2.1"}' and execution["versionNumber"] == 2
    assert execution["statusDetails"] == {"step": "download"}
    assert pending_ids(device, first) == ([job], [])
    assert pending_ids(device, second) == ([], [job])  # the other thing's execution is untouched

    with pytest.raises(iot.exceptions.InvalidStateTransitionException):
        iot.cancel_job_execution(thingName=first, jobId=job)  # IN_PROGRESS needs force
    iot.cancel_job_execution(thingName=first, jobId=job, force=True, expectedVersion=2)

    with pytest.raises(device.exceptions.InvalidStateTransitionException) as refused:
        device.update_job_execution(thingName=first, jobId=job, status="SUCCEEDED")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    raw = raw_state_error(live.url, first, job, {"status": "SUCCEEDED"})
    assert raw.status_code == 409 and raw.headers["x-amzn-ErrorType"] == "InvalidStateTransitionException"
    assert raw.json()["executionState"] == {"status": "CANCELED", "statusDetails": {"step": "download"},
                                            "versionNumber": 3}

    seen = device.describe_job_execution(thingName=first, jobId=job)["execution"]
    assert seen["status"] == "CANCELED" and seen["versionNumber"] == 3
    assert pending_ids(device, first) == ([], [])
    assert "execution" not in device.start_next_pending_job_execution(thingName=first)
    control = iot.describe_job_execution(thingName=first, jobId=job)["execution"]
    assert control["status"] == "CANCELED" and control["forceCanceled"] is True


def test_cancel_of_a_queued_execution_as_the_device_sees_it(live, iot, device):
    (thing,), (canceled, other) = fresh(iot, count=1, jobs=2)
    iot.cancel_job_execution(thingName=thing, jobId=canceled)
    with pytest.raises(device.exceptions.InvalidStateTransitionException):
        device.update_job_execution(thingName=thing, jobId=canceled, status="IN_PROGRESS")
    raw = raw_state_error(live.url, thing, canceled, {"status": "IN_PROGRESS"})
    assert raw.json()["executionState"]["status"] == "CANCELED"
    assert device.describe_job_execution(thingName=thing, jobId=canceled)["execution"]["status"] == "CANCELED"
    assert pending_ids(device, thing) == ([], [other])
    assert device.describe_job_execution(thingName=thing, jobId="$next")["execution"]["jobId"] == other
    assert device.start_next_pending_job_execution(thingName=thing)["execution"]["jobId"] == other
    again = device.start_next_pending_job_execution(thingName=thing)["execution"]  # the one in progress
    assert (again["jobId"], again["status"], again["versionNumber"]) == (other, "IN_PROGRESS", 2)


@pytest.mark.parametrize("outcome", ["SUCCEEDED", "FAILED", "REJECTED"])
@pytest.mark.parametrize("then", ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"])
def test_a_finished_execution_refuses_every_further_update(live, iot, device, outcome, then):
    (thing,), (job,) = fresh(iot, count=1)
    device.start_next_pending_job_execution(thingName=thing)
    device.update_job_execution(thingName=thing, jobId=job, status=outcome)
    with pytest.raises(device.exceptions.InvalidStateTransitionException):
        device.update_job_execution(thingName=thing, jobId=job, status=then)
    seen = device.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert seen["status"] == outcome and seen["versionNumber"] == 3
    assert pending_ids(device, thing) == ([], [])


def test_fixture_executions_in_terminal_statuses_refuse_updates(device):
    for job, status in (("job-succeeded", "SUCCEEDED"), ("job-timed-out", "TIMED_OUT"),
                        ("job-removed", "REMOVED"), ("job-canceled", "CANCELED")):
        with pytest.raises(device.exceptions.InvalidStateTransitionException):
            device.update_job_execution(thingName="device-1", jobId=job, status="IN_PROGRESS")
        assert device.describe_job_execution(thingName="device-1", jobId=job)["execution"]["status"] == status


def test_each_device_update_bumps_the_version_the_control_plane_checks(live, iot, device):
    (thing,), (job,) = fresh(iot, count=1)
    versions = [device.start_next_pending_job_execution(thingName=thing)["execution"]["versionNumber"]]
    for step in ("10%", "50%", "90%"):
        state = device.update_job_execution(thingName=thing, jobId=job, status="IN_PROGRESS",
                                            statusDetails={"progress": step},
                                            includeJobExecutionState=True)["executionState"]
        versions.append(state["versionNumber"])
        assert state["statusDetails"] == {"progress": step}
    assert versions == [2, 3, 4, 5]
    assert iot.describe_job_execution(thingName=thing, jobId=job)["execution"]["versionNumber"] == 5
    with pytest.raises(iot.exceptions.VersionConflictException):
        iot.cancel_job_execution(thingName=thing, jobId=job, force=True, expectedVersion=4)
    iot.cancel_job_execution(thingName=thing, jobId=job, force=True, expectedVersion=5)
    assert device.describe_job_execution(thingName=thing, jobId=job)["execution"]["versionNumber"] == 6


def test_a_stale_expected_version_is_refused_with_the_current_state(live, iot, device):
    (thing,), (job,) = fresh(iot, count=1)
    device.start_next_pending_job_execution(thingName=thing)
    with pytest.raises(device.exceptions.InvalidStateTransitionException):
        device.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED", expectedVersion=1)
    raw = raw_state_error(live.url, thing, job, {"status": "SUCCEEDED", "expectedVersion": 1})
    assert raw.status_code == 409 and "VersionMismatch" in raw.json()["message"]
    assert raw.json()["executionState"] == {"status": "IN_PROGRESS", "statusDetails": {}, "versionNumber": 2}
    done = device.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED", expectedVersion=2,
                                       includeJobExecutionState=True, includeJobDocument=True)
    assert done["executionState"]["status"] == "SUCCEEDED" and done["jobDocument"] == '{"firmware": "2.1"}'


def test_describe_options_job_document_and_execution_number(live, iot, device):
    (thing,), (job,) = fresh(iot, count=1)
    shown = device.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert shown["jobDocument"] == '{"firmware": "2.1"}' and shown["status"] == "QUEUED"
    assert isinstance(shown["queuedAt"], int)
    assert "jobDocument" not in device.describe_job_execution(
        thingName=thing, jobId=job, includeJobDocument=False)["execution"]
    assert device.describe_job_execution(thingName=thing, jobId=job, executionNumber=1)["execution"]["jobId"] == job
    with pytest.raises(device.exceptions.ResourceNotFoundException):
        device.describe_job_execution(thingName=thing, jobId=job, executionNumber=2)
    with pytest.raises(device.exceptions.ResourceNotFoundException):
        device.update_job_execution(thingName=thing, jobId=job, status="IN_PROGRESS", executionNumber=2)
    answer = device.update_job_execution(thingName=thing, jobId=job, status="IN_PROGRESS")
    assert set(answer) == {"ResponseMetadata"}  # nothing unless asked for


def test_step_timeout_is_reported_back_as_seconds_before_timed_out(live, iot, device):
    (thing,), (job,) = fresh(iot, count=1)
    started = device.start_next_pending_job_execution(thingName=thing, stepTimeoutInMinutes=5)["execution"]
    assert started["approximateSecondsBeforeTimedOut"] == 300


# --- every error is the modelled class --------------------------------------------------------

def test_unknown_things_and_executions_are_resource_not_found(device):
    missing = device.exceptions.ResourceNotFoundException
    calls = [lambda: device.get_pending_job_executions(thingName="no-such-thing"),
             lambda: device.start_next_pending_job_execution(thingName="no-such-thing"),
             lambda: device.describe_job_execution(thingName="no-such-thing", jobId="firmware-update"),
             lambda: device.describe_job_execution(thingName="device-1", jobId="no-such-job"),
             lambda: device.describe_job_execution(thingName="device-2", jobId="job-succeeded"),
             lambda: device.update_job_execution(thingName="device-1", jobId="no-such-job", status="FAILED"),
             lambda: device.update_job_execution(thingName="no-such-thing", jobId="firmware-update",
                                                 status="FAILED")]
    for call in calls:
        with pytest.raises(missing) as error:
            call()
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_next_of_a_thing_with_nothing_pending_is_not_found(live, iot, device):
    (thing,), (job,) = fresh(iot, count=1)
    iot.cancel_job_execution(thingName=thing, jobId=job)
    with pytest.raises(device.exceptions.ResourceNotFoundException):
        device.describe_job_execution(thingName=thing, jobId="$next")
    assert set(device.start_next_pending_job_execution(thingName=thing)) == {"ResponseMetadata"}


@pytest.mark.parametrize("call", [
    {"status": "QUEUED"}, {"status": "CANCELED"}, {"status": "DONE"},
    {"status": "IN_PROGRESS", "statusDetails": {"bad key!": "x"}},
    {"status": "IN_PROGRESS", "statusDetails": {"k": "bell\u0007"}},
    {"status": "IN_PROGRESS", "stepTimeoutInMinutes": 0},
])
def test_invalid_updates_are_invalid_request_and_change_nothing(device, call):
    before = device.describe_job_execution(thingName="device-1", jobId="firmware-update")["execution"]
    with pytest.raises(device.exceptions.InvalidRequestException) as error:
        device.update_job_execution(thingName="device-1", jobId="firmware-update", **call)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert device.describe_job_execution(thingName="device-1", jobId="firmware-update")["execution"] == before


@pytest.mark.parametrize("code, status", [("TerminalStateException", 410), ("ThrottlingException", 429),
                                          ("ServiceUnavailableException", 503),
                                          ("CertificateValidationException", 400)])
def test_injected_faults_are_the_modelled_classes(live, code, status):
    def fault(request, **_):
        request.headers["x-cancelgate-fault"] = code
    client = aws_client("iot-jobs-data", live.url)
    client.meta.events.register("before-sign.iot-jobs-data.*", fault)
    with pytest.raises(getattr(client.exceptions, code)) as error:
        client.describe_job_execution(thingName="device-1", jobId="firmware-update")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_a_fault_rule_for_the_data_plane_leaves_the_control_plane_alone(live, iot, device, http):
    rules = {"rules": [{"match": {"family": "iot-jobs-data"}, "fault": {"code": "ThrottlingException"}}]}
    assert http.put("/_cancelgate/faults", json=rules).status_code == 200
    try:
        with pytest.raises(device.exceptions.ThrottlingException):
            device.get_pending_job_executions(thingName="device-1")
        assert iot.list_job_executions_for_thing(thingName="device-1")["executionSummaries"]
    finally:
        http.delete("/_cancelgate/faults")


# --- one URL, two APIs -----------------------------------------------------------------------

def test_same_url_each_client_reaches_its_own_api(live, iot, device):
    control = iot.describe_job_execution(thingName="device-2", jobId="firmware-update")["execution"]
    data = device.describe_job_execution(thingName="device-2", jobId="firmware-update")["execution"]
    assert control["statusDetails"] == {"detailsMap": {"progress": "40%"}} and "jobDocument" not in control
    assert data["statusDetails"] == {"progress": "40%"} and data["jobDocument"]
    assert "executionSummaries" in iot.list_job_executions_for_thing(thingName="device-1")
    assert "queuedJobs" in device.get_pending_job_executions(thingName="device-1")


def test_unsigned_requests_go_by_host(live):
    plain = httpx.get(f"{live.url}/things/device-1/jobs")
    assert "executionSummaries" in plain.json()  # ambiguous and unsigned: the control plane
    by_host = httpx.get(f"{live.url}/things/device-1/jobs", headers={"Host": DATA_HOST})
    assert set(by_host.json()) == {"inProgressJobs", "queuedJobs"}
    assert httpx.get(f"{live.url}/_iot-jobs-data/things/device-1/jobs").json() == by_host.json()
    assert httpx.get(f"{live.url}/_cancelgate/health", headers={"Host": DATA_HOST}).json()["status"] == "ok"


def test_the_endpoint_variable_botocore_reads(live, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA_PLANE", live.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT", live.url)
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                                    region_name="us-east-1")
    device, iot = session.client("iot-jobs-data"), session.client("iot")
    assert "queuedJobs" in device.get_pending_job_executions(thingName="device-1")
    assert "executionSummaries" in iot.list_job_executions_for_thing(thingName="device-1")


def test_the_journal_names_each_plane(live, iot, device, http):
    http.delete("/_cancelgate/requests")
    device.get_pending_job_executions(thingName="device-1")
    iot.list_job_executions_for_thing(thingName="device-1")
    entries = http.get("/_cancelgate/requests").json()["requests"]
    seen = {(e["operationId"], e["family"]) for e in entries}
    assert {("GetPendingJobExecutions", "iot-jobs-data"), ("ListJobExecutionsForThing", "iot")} <= seen


def test_unknown_data_plane_path_and_method_answer_in_its_wire(live, device):
    response = httpx.post(f"{live.url}/things/device-1/jobs/$next", json={"status": "FAILED"},
                          headers={"Host": DATA_HOST})
    assert response.status_code == 405 and response.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    response = httpx.get(f"{live.url}/nowhere", headers={"Host": DATA_HOST})
    assert response.status_code == 404 and response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_signatures_are_verified_on_the_path_the_client_signed(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n")
    server = start_server(tmp_path, "--aws-credentials", str(credentials))
    try:
        device = aws_client("iot-jobs-data", server.url)
        assert "queuedJobs" in device.get_pending_job_executions(thingName="device-1")
        assert device.describe_job_execution(thingName="device-1", jobId="$next")["execution"]
        wrong = boto3.client("iot-jobs-data", endpoint_url=server.url, region_name="us-east-1",
                             aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="not-the-secret")
        with pytest.raises(wrong.exceptions.ClientError) as error:
            wrong.get_pending_job_executions(thingName="device-1")
        assert error.value.response["Error"]["Code"] == "InvalidSignatureException"
    finally:
        server.stop()


# --- the lifecycle with a device in the loop --------------------------------------------------

def advance(http, seconds: float) -> list[dict]:
    return http.post("/_cancelgate/clock/advance", json={"seconds": seconds}).json()["transitions"]


def test_an_execution_a_device_took_is_no_longer_simulated(live, iot, device, http):
    (taken, simulated), (job,) = fresh(iot)
    device.start_next_pending_job_execution(thingName=taken)
    advance(http, 3600)
    assert device.describe_job_execution(thingName=taken, jobId=job)["execution"]["status"] == "IN_PROGRESS"
    assert device.describe_job_execution(thingName=simulated, jobId=job)["execution"]["status"] not in (
        "QUEUED", "IN_PROGRESS")
    device.update_job_execution(thingName=taken, jobId=job, status="SUCCEEDED")


def test_a_thing_with_simulate_false_waits_for_its_device(live, iot, device, http):
    (waiting, simulated), _ = fresh(iot, jobs=0)
    answer = http.put(f"/_cancelgate/iot/things/{waiting}", json={"simulate": False})
    assert answer.status_code == 200 and answer.json()["simulate"] is False
    job = f"later-{uuid.uuid4().hex[:6]}"
    iot.create_job(jobId=job, targets=[ARN.format(waiting), ARN.format(simulated)], document="{}")
    advance(http, 3600)
    assert device.describe_job_execution(thingName=waiting, jobId=job)["execution"]["status"] == "QUEUED"
    assert device.describe_job_execution(thingName=simulated, jobId=job)["execution"]["status"] != "QUEUED"
    assert http.put(f"/_cancelgate/iot/things/{waiting}", json={"simulate": True}).json()["simulate"] is True
    advance(http, 3600)
    assert device.describe_job_execution(thingName=waiting, jobId=job)["execution"]["status"] != "QUEUED"


def test_the_fixture_sensor_waits_for_a_device(live, device, http):
    advance(http, 3600)
    assert pending_ids(device, "sensor-7") == ([], ["sensor-calibration"])
    started = device.start_next_pending_job_execution(thingName="sensor-7")["execution"]
    assert started["jobId"] == "sensor-calibration" and started["jobDocument"] == '{"operation": "calibrate"}'


# --- timeouts and retries on the clock ------------------------------------------------------

def test_in_progress_timeout_times_a_silent_device_out(live, iot, device, http):
    tag = uuid.uuid4().hex[:8]
    thing, job = f"silent-{tag}", f"timed-{tag}"
    iot.create_thing(thingName=thing)
    iot.create_job(jobId=job, targets=[ARN.format(thing)], document="{}",
                   timeoutConfig={"inProgressTimeoutInMinutes": 2})
    started = device.start_next_pending_job_execution(thingName=thing)["execution"]
    assert started["approximateSecondsBeforeTimedOut"] == 120
    advance(http, 60)
    assert device.describe_job_execution(thingName=thing, jobId=job)["execution"][
        "approximateSecondsBeforeTimedOut"] == 60
    transitions = advance(http, 61)
    assert {"family": "iot", "id": f"{thing}/{job}", "from": "IN_PROGRESS", "to": "TIMED_OUT"}.items() <= \
        next(t for t in transitions if t["id"] == f"{thing}/{job}").items()
    seen = device.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert seen["status"] == "TIMED_OUT" and seen["versionNumber"] == 3
    with pytest.raises(device.exceptions.InvalidStateTransitionException):
        device.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED")
    assert iot.describe_job(jobId=job)["job"]["jobProcessDetails"]["numberOfTimedOutThings"] == 1


def test_a_step_timer_set_by_the_device_times_out_and_is_reset_by_updates(live, iot, device, http):
    (thing,), (job,) = fresh(iot, count=1)
    device.start_next_pending_job_execution(thingName=thing, stepTimeoutInMinutes=1)
    advance(http, 50)
    device.update_job_execution(thingName=thing, jobId=job, status="IN_PROGRESS", stepTimeoutInMinutes=1)
    advance(http, 50)
    assert device.describe_job_execution(thingName=thing, jobId=job)["execution"]["status"] == "IN_PROGRESS"
    advance(http, 11)
    assert device.describe_job_execution(thingName=thing, jobId=job)["execution"]["status"] == "TIMED_OUT"


def test_retry_config_queues_a_failed_execution_again_as_the_next_execution_number(live, iot, device, http):
    tag = uuid.uuid4().hex[:8]
    thing, job = f"flaky-{tag}", f"retry-{tag}"
    iot.create_thing(thingName=thing)
    iot.create_job(jobId=job, targets=[ARN.format(thing)], document="{}",
                   timeoutConfig={"inProgressTimeoutInMinutes": 1},
                   jobExecutionsRetryConfig={"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1},
                                                              {"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
    device.start_next_pending_job_execution(thingName=thing)
    state = device.update_job_execution(thingName=thing, jobId=job, status="FAILED",
                                        includeJobExecutionState=True)["executionState"]
    assert state["status"] == "FAILED"  # what the device reported; the retry is a new execution
    again = device.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert (again["status"], again["executionNumber"], again["versionNumber"]) == ("QUEUED", 2, 1)
    summary = iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"][0]["jobExecutionSummary"]
    assert summary["retryAttempt"] == 1 and summary["executionNumber"] == 2
    assert device.start_next_pending_job_execution(thingName=thing)["execution"]["executionNumber"] == 2
    advance(http, 61)  # the retry times out: no retry left for the second attempt
    final = device.describe_job_execution(thingName=thing, jobId=job)["execution"]
    assert (final["status"], final["executionNumber"]) == ("TIMED_OUT", 2)


def test_abort_config_cancels_the_job_when_failures_pass_the_threshold(live, iot, device):
    tag = uuid.uuid4().hex[:8]
    things = [f"fleet-{tag}-{n}" for n in range(4)]
    for thing in things:
        iot.create_thing(thingName=thing)
    job = f"abort-{tag}"
    iot.create_job(jobId=job, targets=[ARN.format(t) for t in things], document="{}",
                   abortConfig={"criteriaList": [{"failureType": "ALL", "action": "CANCEL",
                                                  "thresholdPercentage": 50, "minNumberOfExecutedThings": 2}]})
    for thing in things[:3]:
        device.start_next_pending_job_execution(thingName=thing)
    device.update_job_execution(thingName=things[0], jobId=job, status="REJECTED")  # 1 of 1: below the minimum
    assert iot.describe_job(jobId=job)["job"]["status"] == "IN_PROGRESS"
    device.update_job_execution(thingName=things[1], jobId=job, status="FAILED")    # 2 of 2 failed: abort
    described = iot.describe_job(jobId=job)["job"]
    assert described["status"] == "CANCELED" and described["reasonCode"] == "ABORT_CRITERIA_MET"
    assert described["forceCanceled"] is False
    assert device.describe_job_execution(thingName=things[3], jobId=job)["execution"]["status"] == "CANCELED"
    running = device.update_job_execution(thingName=things[2], jobId=job, status="SUCCEEDED",
                                          includeJobExecutionState=True)  # an abort is not forced
    assert running["executionState"]["status"] == "SUCCEEDED"


def test_the_lifecycle_file_names_things_that_wait_for_a_device(tmp_path):
    lifecycle = tmp_path / "lifecycle.yaml"
    lifecycle.write_text("iot:\n  waitForDevice: ['bench-*']\n")
    server = start_server(tmp_path, "--lifecycle", str(lifecycle))
    try:
        iot, device = aws_client("iot", server.url), aws_client("iot-jobs-data", server.url)
        for thing in ("bench-1", "field-1"):
            iot.create_thing(thingName=thing)
        iot.create_job(jobId="j", targets=[ARN.format("bench-1"), ARN.format("field-1")], document="{}")
        httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 3600})
        assert device.describe_job_execution(thingName="bench-1", jobId="j")["execution"]["status"] == "QUEUED"
        assert device.describe_job_execution(thingName="field-1", jobId="j")["execution"]["status"] != "QUEUED"
    finally:
        server.stop()
