"""The control plane's PUT of a Batch job refuses documents inconsistent with the jobs around
them (issue 13), with a 400 problem naming the field, and stores nothing."""
from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.both_stores

BASE = {"jobName": "job", "jobQueue": "default", "jobDefinition": "report:1"}


def new_id() -> str:
    return str(uuid.uuid4())


def put(http, job_id: str, status: str = "PENDING", **fields):
    return http.put(f"/_cancelgate/batch/jobs/{job_id}", json={**BASE, "status": status, **fields})


def refused(response, field: str) -> str:
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert problem["detail"].startswith(f"{field}:"), problem
    return problem["detail"]


def absent(http, job_id: str) -> None:
    assert http.get(f"/_cancelgate/state/batch_jobs/{job_id}").status_code == 404


def test_the_poison_recipe_is_refused_at_both_puts(http, batch):
    job_id = new_id()
    detail = refused(put(http, job_id, dependsOn=[{"jobId": job_id}]), "dependsOn")
    assert "itself" in detail
    absent(http, job_id)
    batch.cancel_job(jobId=job_id, reason="poison")          # an id of no job: a no-op, as in AWS
    refused(put(http, f"{job_id}:1", "RUNNING", arrayProperties={"index": 1}), "jobId")
    absent(http, f"{job_id}:1")
    assert put(http, new_id(), "RUNNING").status_code == 200   # the server goes on serving


def test_a_longer_dependency_cycle_is_refused(http):
    first, second = new_id(), new_id()
    assert put(http, first, dependsOn=[{"jobId": second}]).status_code == 200   # second not there yet
    assert put(http, second, "SUBMITTED").status_code == 200
    detail = refused(put(http, second, dependsOn=[{"jobId": first}]), "dependsOn")
    assert first in detail and "cycle" in detail
    assert http.get(f"/_cancelgate/state/batch_jobs/{second}").json()["status"] == "SUBMITTED"


def test_a_child_of_a_job_that_is_not_an_array_is_refused(http):
    plain = new_id()
    assert put(http, plain).status_code == 200
    assert "not an array job" in refused(put(http, f"{plain}:0", arrayProperties={"index": 0}), "jobId")
    absent(http, f"{plain}:0")


def test_child_indexes_must_match_the_id_and_the_parent_size(http):
    parent = new_id()
    assert put(http, parent, arrayProperties={"size": 2}).status_code == 200
    assert "out of range" in refused(put(http, f"{parent}:2", arrayProperties={"index": 2}),
                                     "arrayProperties.index")
    refused(put(http, f"{parent}:1", arrayProperties={"index": 0}), "arrayProperties.index")
    refused(put(http, f"{parent}:1"), "arrayProperties.index")
    refused(put(http, new_id(), arrayProperties={"index": 1}), "arrayProperties.index")
    refused(put(http, f"{parent}:01", arrayProperties={"index": 1}), "jobId")
    refused(put(http, parent, arrayProperties={"size": 2, "index": 1}), "arrayProperties")
    for index in (0, 1):
        assert put(http, f"{parent}:{index}", "RUNNING", arrayProperties={"index": index}).status_code == 200


def test_array_dependencies_on_its_own_family_are_refused(http):
    parent = new_id()
    assert put(http, parent, arrayProperties={"size": 2}).status_code == 200
    assert put(http, f"{parent}:0", arrayProperties={"index": 0}).status_code == 200
    refused(put(http, f"{parent}:1", arrayProperties={"index": 1}, dependsOn=[{"jobId": parent}]), "dependsOn")
    refused(put(http, parent, arrayProperties={"size": 2}, dependsOn=[{"jobId": f"{parent}:0"}]), "dependsOn")


def test_an_array_parent_cannot_shrink_below_its_children(http):
    parent = new_id()
    assert put(http, parent, arrayProperties={"size": 3}).status_code == 200
    assert put(http, f"{parent}:2", arrayProperties={"index": 2}).status_code == 200
    refused(put(http, parent, arrayProperties={"size": 2}), "arrayProperties.size")
    refused(put(http, parent), "arrayProperties.size")
    assert put(http, parent, "RUNNABLE", arrayProperties={"size": 3}).status_code == 200


@pytest.mark.parametrize("jobs, words", [
    ({"a": {"dependsOn": [{"jobId": "a"}]}}, ["batch_jobs/a", "dependsOn", "itself"]),
    ({"a": {"dependsOn": [{"jobId": "b"}]}, "b": {"dependsOn": [{"jobId": "a"}]}}, ["dependsOn", "cycle"]),
    ({"a:1": {"arrayProperties": {"index": 1}}}, ["batch_jobs/a:1", "jobId", "no array job a"]),
    ({"a": {"arrayProperties": {"size": 2}}, "a:2": {"arrayProperties": {"index": 2}}},
     ["batch_jobs/a:2", "arrayProperties.index", "out of range"]),
])
def test_an_inconsistent_fixture_file_is_refused_at_start(tmp_path, jobs, words):
    from tests.test_startup_errors import refused, serve
    docs = {key: {"jobId": key, "jobName": "j", "jobQueue": "default", "jobDefinition": "report:1",
                  "status": "PENDING", "createdAt": 1, **doc} for key, doc in jobs.items()}
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"batch_jobs": docs}))
    refused(serve("--fixtures", str(path)), str(path), *words)
