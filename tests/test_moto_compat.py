"""A suite written for moto_server resets it with POST /moto-api/reset between tests: cancelgate
answers it as moto does (an empty store) and accepts /moto-api/reset-auth as a no-op."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server


def test_reset_empties_the_store_as_moto_does(live, batch, iot):
    submitted = batch.submit_job(jobName="carried-over", jobQueue="default", jobDefinition="report:1")
    thing = iot.create_thing(thingName="carried-over")
    iot.create_job(jobId="carried-over", targets=[thing["thingArn"]], document="{}")
    # moto's own docs reset it with requests.post(url + "/moto-api/reset"): no body, no content type
    answer = httpx.post(f"{live.url}/moto-api/reset")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert batch.describe_jobs(jobs=[submitted["jobId"]])["jobs"] == []
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_job(jobId="carried-over")
    assert sum(httpx.get(f"{live.url}/_cancelgate/health").json()["counts"].values()) == 0


def test_reset_auth_is_accepted_and_changes_nothing(live, batch):
    submitted = batch.submit_job(jobName="kept", jobQueue="default", jobDefinition="report:1")
    answer = httpx.post(f"{live.url}/moto-api/reset-auth", content=b"4")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert batch.describe_jobs(jobs=[submitted["jobId"]])["jobs"][0]["jobName"] == "kept"


def test_other_methods_are_problems_not_iot_errors(live):
    answer = httpx.get(f"{live.url}/moto-api/reset")
    assert answer.status_code == 405
    assert answer.json()["status"] == 405
    assert "x-amzn-ErrorType" not in answer.headers  # not answered by the IoT API that owns "/"


def test_admin_token_guards_the_moto_reset(tmp_path):
    server = start_server(tmp_path, "--admin-token", "s3cret")
    try:
        assert httpx.post(f"{server.url}/moto-api/reset").status_code == 401
        answer = httpx.post(f"{server.url}/moto-api/reset", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/moto-api/reset", "/moto-api/reset-auth"])
def test_listed_on_the_landing_page(live, path):
    page = httpx.get(f"{live.url}/").text
    assert "/moto-api" in page
    spec = httpx.get(f"{live.url}/moto-api/openapi.json").json()
    assert path.removeprefix("/moto-api") in spec["paths"]
