"""The IoT control plane beyond CancelJobExecution, with boto3's `iot` client: CancelJob, the
deletes, things and thing types, ListJobs, GetJobDocument, CreateJob's every field, ARNs by
region."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import aws_client

ARN = "arn:aws:iot:us-east-1:123456789012:thing/{}"


@pytest.fixture
def device(live):
    return aws_client("iot-jobs-data", live.url)


def fresh(iot, count: int = 3):
    tag = uuid.uuid4().hex[:8]
    things = [f"t-{tag}-{n}" for n in range(count)]
    for thing in things:
        iot.create_thing(thingName=thing)
    job = f"job-{tag}"
    iot.create_job(jobId=job, targets=[ARN.format(t) for t in things], document='{"v": 1}',
                   description="rollout")
    return things, job


def statuses(iot, job):
    return {e["thingArn"].rsplit("/", 1)[1]: e["jobExecutionSummary"]["status"]
            for e in iot.list_job_executions_for_job(jobId=job)["executionSummaries"]}


@pytest.mark.parametrize("force", [False, True])
def test_cancel_job_cancels_queued_and_in_progress_only_with_force(live, iot, device, force):
    (queued, running, done), job = fresh(iot)
    device.start_next_pending_job_execution(thingName=running)
    device.start_next_pending_job_execution(thingName=done)
    device.update_job_execution(thingName=done, jobId=job, status="SUCCEEDED")
    answer = iot.cancel_job(jobId=job, force=force, reasonCode="FIRMWARE_RECALL", comment="bad build")
    assert (answer["jobId"], answer["description"]) == (job, "rollout")
    assert statuses(iot, job) == {queued: "CANCELED", running: "CANCELED" if force else "IN_PROGRESS",
                                  done: "SUCCEEDED"}
    described = iot.describe_job(jobId=job)["job"]
    assert described["status"] == "CANCELED" and described["forceCanceled"] is force
    assert (described["reasonCode"], described["comment"]) == ("FIRMWARE_RECALL", "bad build")
    counts = described["jobProcessDetails"]
    assert counts["numberOfCanceledThings"] == (2 if force else 1)
    assert counts["numberOfSucceededThings"] == 1
    if not force:  # the device may still finish what it runs
        device.update_job_execution(thingName=running, jobId=job, status="SUCCEEDED")
    else:
        with pytest.raises(device.exceptions.InvalidStateTransitionException):
            device.update_job_execution(thingName=running, jobId=job, status="SUCCEEDED")
    with pytest.raises(iot.exceptions.InvalidStateTransitionException):
        iot.cancel_job(jobId=job)


def test_cancel_of_a_completed_or_unknown_job_is_refused(live, iot, device):
    (thing,), job = fresh(iot, count=1)
    device.start_next_pending_job_execution(thingName=thing)
    device.update_job_execution(thingName=thing, jobId=job, status="SUCCEEDED")
    assert iot.describe_job(jobId=job)["job"]["status"] == "COMPLETED"
    with pytest.raises(iot.exceptions.InvalidStateTransitionException):
        iot.cancel_job(jobId=job, force=True)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.cancel_job(jobId="no-such-job")


def test_delete_job_execution_needs_force_unless_finished(live, iot, device):
    (queued, running), job = fresh(iot, count=2)
    device.start_next_pending_job_execution(thingName=running)
    for thing in (queued, running):
        with pytest.raises(iot.exceptions.InvalidStateTransitionException):
            iot.delete_job_execution(thingName=thing, jobId=job, executionNumber=1)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.delete_job_execution(thingName=queued, jobId=job, executionNumber=2, force=True)
    iot.cancel_job_execution(thingName=queued, jobId=job)
    iot.delete_job_execution(thingName=queued, jobId=job, executionNumber=1)
    iot.delete_job_execution(thingName=running, jobId=job, executionNumber=1, force=True)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job_execution(thingName=running, jobId=job)
    with pytest.raises(device.exceptions.ResourceNotFoundException):
        device.describe_job_execution(thingName=running, jobId=job)
    assert iot.list_job_executions_for_thing(thingName=running)["executionSummaries"] == []


def test_delete_job_needs_force_while_in_progress(live, iot):
    _, job = fresh(iot, count=1)
    with pytest.raises(iot.exceptions.InvalidStateTransitionException):
        iot.delete_job(jobId=job)
    iot.delete_job(jobId=job, force=True)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job(jobId=job)
    (thing,), other = fresh(iot, count=1)
    iot.cancel_job(jobId=other)
    iot.delete_job(jobId=other)
    assert iot.list_job_executions_for_thing(thingName=thing)["executionSummaries"] == []


def test_get_job_document_and_list_jobs(live, iot, device):
    (thing,), job = fresh(iot, count=1)
    assert iot.get_job_document(jobId=job)["document"] == '{"v": 1}'
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_job_document(jobId="no-such-job")
    listed = {j["jobId"]: j for j in iot.get_paginator("list_jobs").paginate(
        PaginationConfig={"PageSize": 2}).build_full_result()["jobs"]}
    assert listed[job]["status"] == "IN_PROGRESS" and listed["job-succeeded"]["status"] == "COMPLETED"
    iot.cancel_job(jobId=job)
    canceled = [j["jobId"] for j in iot.list_jobs(status="CANCELED")["jobs"]]
    assert job in canceled and "job-succeeded" not in canceled
    assert all(j["targetSelection"] == "SNAPSHOT" for j in iot.list_jobs(targetSelection="SNAPSHOT")["jobs"])
    assert iot.list_jobs(thingGroupName="no-groups-here")["jobs"] == []


def test_things_describe_update_list_delete(live, iot):
    tag = uuid.uuid4().hex[:8]
    kind, name = f"sensor-{tag}", f"thing-{tag}"
    made = iot.create_thing_type(thingTypeName=kind, thingTypeProperties={"thingTypeDescription": "sensors"})
    assert made["thingTypeArn"] == f"arn:aws:iot:us-east-1:123456789012:thingtype/{kind}"
    described_type = iot.describe_thing_type(thingTypeName=kind)
    assert described_type["thingTypeProperties"] == {"thingTypeDescription": "sensors"}
    assert described_type["thingTypeMetadata"]["deprecated"] is False
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_thing_type(thingTypeName=kind, thingTypeProperties={"thingTypeDescription": "other"})
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing_type(thingTypeName=f"none-{tag}")

    iot.create_thing(thingName=name, attributePayload={"attributes": {"model": "t1000", "site": "a"}})
    thing = iot.describe_thing(thingName=name)
    assert (thing["attributes"], thing["version"], thing["defaultClientId"]) == (
        {"model": "t1000", "site": "a"}, 1, name)
    iot.update_thing(thingName=name, thingTypeName=kind, expectedVersion=1,
                     attributePayload={"attributes": {"site": "", "fw": "2.1"}, "merge": True})
    thing = iot.describe_thing(thingName=name)
    assert (thing["attributes"], thing["version"], thing["thingTypeName"]) == ({"model": "t1000", "fw": "2.1"}, 2, kind)
    with pytest.raises(iot.exceptions.VersionConflictException):
        iot.update_thing(thingName=name, expectedVersion=1, removeThingType=True)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.update_thing(thingName=name, thingTypeName=f"none-{tag}")
    with pytest.raises(iot.exceptions.InvalidRequestException):
        iot.update_thing(thingName=name, thingTypeName=kind, removeThingType=True)

    by_type = [t["thingName"] for t in iot.list_things(thingTypeName=kind)["things"]]
    assert by_type == [name]
    assert [t["thingName"] for t in iot.list_things(attributeName="fw", attributeValue="2")["things"]] == []
    assert name in [t["thingName"] for t in iot.list_things(attributeName="fw", attributeValue="2",
                                                            usePrefixAttributeValue=True)["things"]]
    every = iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 2}).build_full_result()
    assert {"device-1", name} <= {t["thingName"] for t in every["things"]}

    with pytest.raises(iot.exceptions.VersionConflictException):
        iot.delete_thing(thingName=name, expectedVersion=1)
    iot.delete_thing(thingName=name, expectedVersion=2)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=name)


def test_create_job_takes_every_field_of_its_model_and_describes_it_back(live, iot):
    (thing,), _ = fresh(iot, count=1)
    job = f"full-{uuid.uuid4().hex[:8]}"
    fields = {
        "documentSource": "https://example.com/job.json",
        "presignedUrlConfig": {"roleArn": "arn:aws:iam::123456789012:role/presign", "expiresInSec": 600},
        "jobExecutionsRolloutConfig": {"maximumPerMinute": 10, "exponentialRate": {
            "baseRatePerMinute": 5, "incrementFactor": 2.0, "rateIncreaseCriteria": {"numberOfSucceededThings": 3}}},
        "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50.0,
                                          "minNumberOfExecutedThings": 2}]},
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "tags": [{"Key": "team", "Value": "firmware"}],
        "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]},
        "documentParameters": {"version": "2.1"},
        "schedulingConfig": {"endBehavior": "CANCEL", "maintenanceWindows": [
            {"startTime": "cron(0 0 * * ? *)", "durationInMinutes": 60}]},
    }
    iot.create_job(jobId=job, targets=[ARN.format(thing)], **fields)
    answer = iot.describe_job(jobId=job)
    described = answer["job"]
    assert answer["documentSource"] == fields["documentSource"]
    for name in ("presignedUrlConfig", "jobExecutionsRolloutConfig", "abortConfig", "timeoutConfig",
                 "jobExecutionsRetryConfig", "documentParameters", "schedulingConfig"):
        assert described[name] == fields[name], name


def test_arns_carry_the_region_the_client_signed_for(live):
    iot = aws_client("iot", live.url)
    iot.meta.config.region_name  # noqa: B018  (us-east-1 by default in the fixture)
    import boto3
    from botocore.config import Config
    west = boto3.client("iot", endpoint_url=live.url, region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE",
                        aws_secret_access_key="secret", config=Config(retries={"total_max_attempts": 1}))
    name = f"west-{uuid.uuid4().hex[:8]}"
    assert west.create_thing(thingName=name)["thingArn"] == f"arn:aws:iot:eu-west-1:123456789012:thing/{name}"
    made = west.create_job(jobId=f"job-{name}", targets=[f"arn:aws:iot:eu-west-1:123456789012:thing/{name}"])
    assert made["jobArn"] == f"arn:aws:iot:eu-west-1:123456789012:job/job-{name}"
    assert iot.create_thing(thingName=f"{name}-east")["thingArn"].startswith("arn:aws:iot:us-east-1:")


@pytest.mark.parametrize("selection", ["SNAPSHOT", "CONTINUOUS"])
def test_a_job_targeting_a_thing_group_reaches_its_members(live, iot, device, selection):
    tag = uuid.uuid4().hex[:8]
    group, first, later = f"pumps-{tag}", f"pump-{tag}-1", f"pump-{tag}-2"
    made = iot.create_thing_group(thingGroupName=group, thingGroupProperties={"thingGroupDescription": "field"})
    assert made["thingGroupArn"] == f"arn:aws:iot:us-east-1:123456789012:thinggroup/{group}"
    assert iot.describe_thing_group(thingGroupName=group)["thingGroupProperties"] == {"thingGroupDescription": "field"}
    for thing in (first, later):
        iot.create_thing(thingName=thing)
    iot.add_thing_to_thing_group(thingGroupName=group, thingName=first)
    job = f"group-job-{tag}"
    iot.create_job(jobId=job, targets=[made["thingGroupArn"]], targetSelection=selection, document="{}")
    assert device.get_pending_job_executions(thingName=first)["queuedJobs"][0]["jobId"] == job
    iot.add_thing_to_thing_group(thingGroupArn=made["thingGroupArn"], thingArn=ARN.format(later))
    queued = [j["jobId"] for j in device.get_pending_job_executions(thingName=later)["queuedJobs"]]
    assert queued == ([job] if selection == "CONTINUOUS" else [])
    assert [j["jobId"] for j in iot.list_jobs(thingGroupName=group)["jobs"]] == [job]
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.create_job(jobId=f"{job}-x", targets=[made["thingGroupArn"].replace(group, f"none-{tag}")])
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.add_thing_to_thing_group(thingGroupName=f"none-{tag}", thingName=first)
    with pytest.raises(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_thing_group(thingGroupName=group, thingGroupProperties={"thingGroupDescription": "other"})
