"""The lifecycle outlives a Redis outage: the scheduler pauses while Redis is gone, says so once,
and moves jobs again by itself when it is back (it once ended silently in every worker)."""
from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.conftest import aws_client, start_redis, start_server


@pytest.mark.slow
def test_jobs_move_again_after_redis_comes_back(tmp_path):
    url, redis_process = start_redis(tmp_path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    life = tmp_path / "fast.yaml"
    life.write_text("batch:\n  durations:\n    SUBMITTED: 0.2\n    PENDING: 0.2\n    STARTING: 0.2\n"
                    "    RUNNING: 0.2\n")
    server = start_server(tmp_path, "--store", url, "--store-prefix", f"outage-{uuid.uuid4().hex[:8]}",
                          "--clock", "real", "--lifecycle", str(life))
    try:
        batch = aws_client("batch", server.url)
        redis_process.send_signal(signal.SIGKILL)
        redis_process.wait(timeout=20)
        time.sleep(2)                                  # several ticks with no Redis
        url, redis_process = start_redis(tmp_path, port)
        deadline = time.monotonic() + 30
        while True:                                    # the API answers again
            try:
                job = batch.submit_job(jobName="after", jobQueue="default", jobDefinition="report")["jobId"]
                break
            except Exception:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        while True:
            status = batch.describe_jobs(jobs=[job])["jobs"][0]["status"]
            if status == "SUCCEEDED":
                break
            assert time.monotonic() < deadline, f"the job is still {status}: the scheduler did not resume"
            time.sleep(0.2)
        log = server.output()
        assert log.count("jobs stand still") == 1 and log.count("jobs move on") == 1
        assert "Traceback" not in log
    finally:
        server.stop()
        redis_process.terminate()
        redis_process.wait(timeout=20)
