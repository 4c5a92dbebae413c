"""Array children are stored as what differs from their parent, and shown as before.

tests/data/array_child_views.json was recorded (tests/array_views.py) from the server of commit
c05ffee, which stored every child as a full copy of its parent: DescribeJobs, ListJobs and
ListTagsForResource of the children must still answer exactly that."""
from __future__ import annotations

import json
from pathlib import Path

from array_views import scenario

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
