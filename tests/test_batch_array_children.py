"""Array children are stored as what differs from their parent, and shown as before.

tests/data/array_child_views.json was recorded (tests/array_views.py) from the server of commit
c05ffee, which stored every child as a full copy of its parent: DescribeJobs, ListJobs and
ListTagsForResource of the children must still answer exactly that."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.array_views import scenario
from tests.conftest import aws_client, start_server

pytestmark = pytest.mark.both_stores

GOLDEN = Path(__file__).parent / "data" / "array_child_views.json"


def test_children_show_what_full_copies_showed(live, batch):
    assert scenario(batch, live.url) == json.loads(GOLDEN.read_text())


def stored(http, job_id: str) -> dict:
    response = http.get(f"/_cancelgate/state/batch_jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_child_stores_no_copy_of_what_its_parent_holds(live, batch, http):
    parameters = {f"p{i}": "v" * 1000 for i in range(20)}
    parent = batch.submit_job(jobName="lean", jobQueue="default", jobDefinition="report:1",
                              arrayProperties={"size": 2}, parameters=parameters, tags={"team": "t"},
                              containerOverrides={"command": ["echo", "Ref::p0"]})["jobId"]
    child = stored(http, f"{parent}:1")
    assert len(str(child)) < 1000
    for inherited in ("parameters", "container", "tags", "_overrides", "retryStrategy"):
        assert inherited not in child
    shown = batch.describe_jobs(jobs=[f"{parent}:1"])["jobs"][0]
    assert shown["parameters"] == {"day": "monday", **parameters}
    assert shown["container"]["command"] == ["echo", "v" * 1000]
    assert shown["tags"] == {"team": "t"}


def big_parameters(total: int) -> dict:
    return {f"p{n}": "v" * 1000 for n in range(total // 1000)}


def test_submit_job_over_the_30_kib_payload_quota_is_refused(batch, http):
    before = http.get("/_cancelgate/health").json()
    with pytest.raises(batch.exceptions.ClientException, match="Job size must be less than 30 KiB, got 3[12] KiB"):
        batch.submit_job(jobName="big", jobQueue="default", jobDefinition="report:1",
                         arrayProperties={"size": 10}, parameters=big_parameters(31 * 1024))
    assert http.get("/_cancelgate/health").json() == before
    batch.submit_job(jobName="fits", jobQueue="default", jobDefinition="report:1",
                     parameters=big_parameters(29 * 1024))


def test_register_job_definition_over_the_24_kib_quota_is_refused(batch):
    container = {"image": "busybox", "command": ["echo"], "environment": [
        {"name": f"E{n}", "value": "v" * 1000} for n in range(25)]}
    with pytest.raises(batch.exceptions.ClientException, match="Job definition size must be less than 24 KiB"):
        batch.register_job_definition(jobDefinitionName="huge", type="container", containerProperties=container)
    assert batch.describe_job_definitions(jobDefinitionName="huge")["jobDefinitions"] == []


@pytest.mark.parametrize("size", [1, 10001])
def test_array_size_outside_2_to_10000_is_refused(batch, size):
    with pytest.raises(batch.exceptions.ClientException):
        batch.submit_job(jobName="a", jobQueue="default", jobDefinition="report:1", arrayProperties={"size": size})


def test_journal_bytes_of_a_wide_array_do_not_grow_with_its_parameters(tmp_path):
    """10,000 children: the journal grows by O(1) bytes a child, the parameters written once
    (a full copy per child wrote 29 KiB x 10,000 = 290 MB here)."""
    db = tmp_path / "state.json"
    server = start_server(tmp_path, "--db", str(db))
    try:
        batch = aws_client("batch", server.url)
        journal = db.with_name(db.name + ".journal")

        def growth(parameters: dict) -> int:
            before = journal.stat().st_size if journal.exists() else 0
            parent = batch.submit_job(jobName="wide", jobQueue="default", jobDefinition="report:1",
                                      arrayProperties={"size": 10000}, parameters=parameters)["jobId"]
            shown = batch.describe_jobs(jobs=[f"{parent}:9999"])["jobs"][0]
            assert shown["parameters"] == {"day": "monday", **parameters}
            return journal.stat().st_size - before

        small, large = growth({"p": "v"}), growth(big_parameters(29 * 1024))
        assert small < 3_000_000, small          # under 300 bytes a child, ids and times included
        assert large - small < 64 * 1024, (small, large)
    finally:
        server.stop()


def test_children_stored_whole_by_older_servers_read_as_they_are(live, batch, http):
    """A child written as a full copy (older servers, fixture files) keeps what it holds; what it
    lacks comes from its parent."""
    parent = batch.submit_job(jobName="old", jobQueue="default", jobDefinition="report:1",
                              arrayProperties={"size": 2}, parameters={"day": "friday"}, tags={"a": "1"})["jobId"]
    body = {"jobName": "old-copy", "jobQueue": "default", "jobDefinition": "report:2", "status": "RUNNING",
            "arrayProperties": {"index": 1}, "startedAt": 1}
    assert http.put(f"/_cancelgate/batch/jobs/{parent}:1", json=body).status_code == 200
    shown = batch.describe_jobs(jobs=[f"{parent}:1"])["jobs"][0]
    assert (shown["jobName"], shown["jobDefinition"].rsplit("/", 1)[1]) == ("old-copy", "report:2")
    assert shown["parameters"] == {"day": "friday"} and shown["tags"] == {"a": "1"}
    assert shown["jobArn"].endswith(f":job/{parent}:1") and shown["dependsOn"] == []
    fixture = batch.describe_jobs(jobs=["00000000-0000-4000-8000-000000000011:1"])["jobs"][0]
    assert fixture["jobName"] == "array-parent" and fixture["status"] == "RUNNING"


def test_runnable_children_are_in_the_queue_snapshot_by_arn(live, batch, http):
    batch.create_job_queue(jobQueueName="snap", priority=1)
    parent = batch.submit_job(jobName="snap", jobQueue="snap", jobDefinition="report:1",
                              arrayProperties={"size": 3})["jobId"]
    assert http.post("/_cancelgate/clock/advance", json={"seconds": 2.5}).status_code == 200
    front = batch.get_job_queue_snapshot(jobQueue="snap")["frontOfQueue"]["jobs"]
    assert {job["jobArn"].rsplit("/", 1)[1] for job in front} >= {f"{parent}:2"}
