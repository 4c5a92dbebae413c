"""AWS IoT Jobs against the live server with boto3: every cell of the CancelJobExecution table."""
from __future__ import annotations

import concurrent.futures
import uuid

import httpx
import pytest

from tests.conftest import aws_client

pytestmark = pytest.mark.both_stores

ARN = "arn:aws:iot:us-east-1:123456789012:thing/{}"
FINISHED = ["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"]


def put_execution(url: str, thing: str, job: str, status: str, **fields) -> dict:
    response = httpx.put(f"{url}/_cancelgate/iot/things/{thing}/jobs/{job}", json={"status": status, **fields})
    assert response.status_code == 200, response.text
    return response.json()["execution"]


def execution(iot, thing: str, job: str) -> dict:
    return iot.describe_job_execution(thingName=thing, jobId=job)["execution"]


def fresh() -> tuple[str, str]:
    return f"thing-{uuid.uuid4().hex[:8]}", f"job-{uuid.uuid4().hex[:8]}"


def test_create_thing_create_job_cancel_describe(iot):
    thing = iot.create_thing(thingName="sensor-7")
    assert thing["thingArn"] == ARN.format("sensor-7")
    job = iot.create_job(jobId="reboot-7", targets=[thing["thingArn"]], document='{"op": "reboot"}')
    assert job["jobId"] == "reboot-7"
    queued = execution(iot, "sensor-7", "reboot-7")
    assert (queued["status"], queued["versionNumber"], queued["executionNumber"]) == ("QUEUED", 1, 1)
    iot.cancel_job_execution(thingName="sensor-7", jobId="reboot-7", expectedVersion=1,
                             statusDetails={"reason": "operator"})
    canceled = execution(iot, "sensor-7", "reboot-7")
    assert canceled["status"] == "CANCELED" and canceled["versionNumber"] == 2
    assert canceled["statusDetails"] == {"detailsMap": {"reason": "operator"}}
    assert "forceCanceled" not in canceled
    assert canceled["lastUpdatedAt"] >= queued["lastUpdatedAt"]
    job_detail = iot.describe_job(jobId="reboot-7")["job"]
    assert job_detail["status"] == "COMPLETED" and job_detail["jobProcessDetails"]["numberOfCanceledThings"] == 1


@pytest.mark.parametrize("force", [None, False, True])
def test_queued_is_canceled_with_or_without_force(live, iot, force):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED")
    kwargs = {} if force is None else {"force": force}
    iot.cancel_job_execution(thingName=thing, jobId=job, **kwargs)
    after = execution(iot, thing, job)
    assert after["status"] == "CANCELED" and "forceCanceled" not in after


@pytest.mark.parametrize("force", [None, False])
def test_in_progress_without_force_is_invalid_state_transition(live, iot, force):
    thing, job = fresh()
    before = put_execution(live.url, thing, job, "IN_PROGRESS", versionNumber=4)
    kwargs = {} if force is None else {"force": force}
    with pytest.raises(iot.exceptions.InvalidStateTransitionException) as raised:
        iot.cancel_job_execution(thingName=thing, jobId=job, **kwargs)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert execution(iot, thing, job)["status"] == "IN_PROGRESS"
    assert execution(iot, thing, job)["versionNumber"] == before["versionNumber"]


def test_in_progress_with_force_is_force_canceled(live, iot):
    thing, job = fresh()
    put_execution(live.url, thing, job, "IN_PROGRESS", versionNumber=4)
    iot.cancel_job_execution(thingName=thing, jobId=job, force=True)
    after = execution(iot, thing, job)
    assert (after["status"], after["forceCanceled"], after["versionNumber"]) == ("CANCELED", True, 5)


@pytest.mark.parametrize("status", FINISHED)
@pytest.mark.parametrize("force", [False, True])
def test_finished_executions_cannot_be_canceled(live, iot, status, force):
    thing, job = fresh()
    before = put_execution(live.url, thing, job, status)
    with pytest.raises(iot.exceptions.InvalidStateTransitionException):
        iot.cancel_job_execution(thingName=thing, jobId=job, force=force)
    assert execution(iot, thing, job)["versionNumber"] == before["versionNumber"]
    assert execution(iot, thing, job)["status"] == status


@pytest.mark.parametrize("force", [False, True])
def test_no_such_thing_or_execution_is_not_found(iot, force):
    with pytest.raises(iot.exceptions.ResourceNotFoundException) as raised:
        iot.cancel_job_execution(thingName="no-such-thing", jobId="firmware-update", force=force)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.cancel_job_execution(thingName="device-1", jobId="no-such-job", force=force)


def test_version_conflict_changes_nothing(live, iot):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED", versionNumber=7)
    with pytest.raises(iot.exceptions.VersionConflictException) as raised:
        iot.cancel_job_execution(thingName=thing, jobId=job, expectedVersion=6)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert (execution(iot, thing, job)["status"], execution(iot, thing, job)["versionNumber"]) == ("QUEUED", 7)
    iot.cancel_job_execution(thingName=thing, jobId=job, expectedVersion=7)
    assert execution(iot, thing, job)["versionNumber"] == 8


def test_status_details_kept_when_absent(live, iot):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED", statusDetails={"stage": "download"})
    iot.cancel_job_execution(thingName=thing, jobId=job)
    assert execution(iot, thing, job)["statusDetails"] == {"detailsMap": {"stage": "download"}}


@pytest.mark.parametrize("details", [
    {f"k{i}": "v" for i in range(11)},
    {"k" * 129: "v"},
    {"key": "bell\u0007"},
    {"key": "zero width\u200b"},          # category Cf: only the code check catches it
    {"key": "v" * 1025},
    {"bad key!": "v"},
])
def test_status_details_limits(live, iot, details):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED")
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.cancel_job_execution(thingName=thing, jobId=job, statusDetails=details)
    assert execution(iot, thing, job)["status"] == "QUEUED"


def test_empty_status_details_value_is_invalid_request(live, http):
    """botocore refuses this one itself, so it is sent as raw HTTP."""
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED")
    response = http.put(f"/things/{thing}/jobs/{job}/cancel", json={"statusDetails": {"key": ""}})
    assert response.status_code == 400 and response.headers["x-amzn-ErrorType"] == "InvalidRequestException"


def test_status_details_at_the_limits_are_accepted(live, iot):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED")
    details = {f"k{i}": "v" for i in range(9)} | {"k" * 128: "é" * 1024}
    iot.cancel_job_execution(thingName=thing, jobId=job, statusDetails=details)
    assert execution(iot, thing, job)["statusDetails"]["detailsMap"] == details


@pytest.mark.parametrize("force", ["maybe", "1", "yes", ""])
def test_bad_force_values_are_invalid_request(http, force):
    response = http.put(f"/things/device-1/jobs/firmware-update/cancel?force={force}", json={})
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert http.get("/things/device-1/jobs/firmware-update").json()["execution"]["status"] == "QUEUED"


def test_percent_encoded_thing_name(iot, http):
    assert execution(iot, "thing:1", "firmware-update")["status"] == "QUEUED"
    raw = http.get("/things/thing%3A1/jobs/firmware-update")
    assert raw.status_code == 200
    iot.cancel_job_execution(thingName="thing:1", jobId="firmware-update")
    assert execution(iot, "thing:1", "firmware-update")["status"] == "CANCELED"


def test_create_job_duplicate_and_unknown_target(iot):
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException) as duplicate:
        iot.create_job(jobId="firmware-update", targets=[ARN.format("device-1")], document="{}")
    assert duplicate.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.create_job(jobId="orphan", targets=[ARN.format("ghost")], document="{}")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job(jobId="orphan")   # nothing of the refused job was kept


def test_create_thing_is_idempotent_until_the_configuration_differs(iot):
    first = iot.create_thing(thingName="same", attributePayload={"attributes": {"a": "1"}})
    again = iot.create_thing(thingName="same", attributePayload={"attributes": {"a": "1"}})
    assert first["thingId"] == again["thingId"]
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_thing(thingName="same", attributePayload={"attributes": {"a": "2"}})


def test_describe_execution_number(iot):
    assert iot.describe_job_execution(thingName="device-1", jobId="firmware-update",
                                      executionNumber=1)["execution"]["executionNumber"] == 1
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job_execution(thingName="device-1", jobId="firmware-update", executionNumber=2)


def test_list_executions_filter_and_pages(iot):
    everything = list(iot.get_paginator("list_job_executions_for_thing").paginate(
        thingName="device-1", PaginationConfig={"PageSize": 3}))
    assert [len(p["executionSummaries"]) for p in everything] == [3, 3, 1]
    canceled = iot.list_job_executions_for_thing(thingName="device-1", status="CANCELED")["executionSummaries"]
    assert [s["jobId"] for s in canceled] == ["job-canceled"]
    by_job = iot.list_job_executions_for_job(jobId="firmware-update", status="IN_PROGRESS")["executionSummaries"]
    assert [s["thingArn"] for s in by_job] == [ARN.format("device-2")]
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.list_job_executions_for_job(jobId="no-such-job")


def test_fixtures_hold_every_execution_status(iot):
    seen = {s["jobExecutionSummary"]["status"]
            for thing in ("device-1", "device-2")
            for s in iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"]}
    assert seen == {"QUEUED", "IN_PROGRESS", *FINISHED}


def test_twenty_concurrent_cancels_one_winner(live):
    thing, job = fresh()
    put_execution(live.url, thing, job, "QUEUED", versionNumber=3)

    def cancel(_):
        client = aws_client("iot", live.url)
        try:
            client.cancel_job_execution(thingName=thing, jobId=job, expectedVersion=3)
            return 200
        except client.exceptions.VersionConflictException:
            return 409
        except client.exceptions.InvalidStateTransitionException:
            return 409
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(cancel, range(20)))
    assert outcomes.count(200) == 1 and outcomes.count(409) == 19
    assert execution(aws_client("iot", live.url), thing, job)["versionNumber"] == 4


BAD = {
    "malformed JSON": b'{"expectedVersion": ',
    "wrong type": b'{"expectedVersion": "one"}',
    "unknown field": b'{"expectedVersion": 1, "force": true}',
    "details not a map": b'{"statusDetails": ["a"]}',
    "negative version": b'{"expectedVersion": -1}',
    "huge version": b'{"expectedVersion": 1' + b"0" * 30 + b"}",
    "not UTF-8": b'{"statusDetails": {"k": "\xff"}}',
}


@pytest.mark.parametrize("name", BAD)
def test_bad_bodies_are_invalid_request_and_change_nothing(iot, name):
    def swap(request, **_):
        request.data = BAD[name]
    iot.meta.events.register("before-sign.iot.CancelJobExecution", swap)
    with pytest.raises(iot.exceptions.InvalidRequestException) as raised:
        iot.cancel_job_execution(thingName="device-1", jobId="firmware-update", expectedVersion=1)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert execution(iot, "device-1", "firmware-update")["status"] == "QUEUED"


@pytest.mark.parametrize("path", ["/things/bad%20name/jobs/firmware-update/cancel",
                                  "/things/device-1/jobs/" + "j" * 65 + "/cancel",
                                  "/things/" + "t" * 129 + "/jobs/x/cancel"])
def test_path_patterns_are_enforced(http, path):
    response = http.put(path, json={})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestException"


def test_unknown_iot_path_is_resource_not_found(http):
    response = http.get("/shadows/device-1")
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_boto3_standard_retries_ride_through_two_503s(live, http):
    http.put("/_cancelgate/faults", json={"rules": [{"match": {"operationId": "CancelJobExecution"},
                                                     "fault": {"code": "ServiceUnavailableException"},
                                                     "count": 2}]})
    client = aws_client("iot", live.url, retries={"mode": "standard", "total_max_attempts": 3})
    client.cancel_job_execution(thingName="device-1", jobId="firmware-update")
    assert execution(client, "device-1", "firmware-update")["status"] == "CANCELED"
    (rule,) = http.get("/_cancelgate/faults").json()["rules"]
    assert rule["fired"] == 2


def test_throttling_is_429_and_raised_as_modelled(http, iot):
    http.put("/_cancelgate/faults", json={"rules": [{"match": {"family": "iot"},
                                                     "fault": {"code": "ThrottlingException"}, "count": 1}]})
    with pytest.raises(iot.exceptions.ThrottlingException) as raised:
        iot.cancel_job_execution(thingName="device-1", jobId="firmware-update")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert execution(iot, "device-1", "firmware-update")["status"] == "QUEUED"


@pytest.mark.parametrize("token", ["offset:²", "offset:١", "offset:-1", "other:1"])
def test_a_crafted_paging_token_is_invalid_request(iot, token):
    """Paging tokens are ours: one that is not (non-ASCII digits once made this a 500) is a 400."""
    import base64
    crafted = base64.urlsafe_b64encode(token.encode()).decode()
    for call in (lambda: iot.list_job_executions_for_thing(thingName="device-1", nextToken=crafted),
                 lambda: iot.list_job_executions_for_job(jobId="firmware-update", nextToken=crafted)):
        with pytest.raises(iot.exceptions.InvalidRequestException):
            call()
