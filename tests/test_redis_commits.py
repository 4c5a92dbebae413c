"""Redis commits are answered as what they were: a reply lost after EXEC is not a conflict, and
a reset racing writes leaves no document outside the id sets."""
from __future__ import annotations

import select
import socket
import threading
import time
import uuid

import httpx
import pytest

from tests.conftest import aws_client, start_server

EXEC = b"*1\r\n$4\r\nEXEC\r\n"


class DropOneExecReply:
    """A loopback TCP proxy in front of Redis. Once armed, it forwards the next EXEC to Redis,
    waits for Redis's reply and, instead of relaying it, closes the client's connection: the
    client cannot tell whether its transaction committed."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        upstream = socket.create_connection(self.target)
        pair = {client: upstream, upstream: client}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 30)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    pair[end].sendall(data)
                    if end is client and EXEC in data and self.armed.is_set():
                        self.armed.clear()
                        upstream.recv(65536)      # Redis ran it and answered; the client never hears
                        self.dropped.set()
                        return
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self):
        self._listener.close()


@pytest.fixture
def proxied_server(redis_url, tmp_path):
    proxy = DropOneExecReply(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    server = start_server(tmp_path, "--store", f"redis://127.0.0.1:{proxy.port}/0",
                          "--store-prefix", f"drop-{uuid.uuid4().hex[:8]}")
    yield server, proxy
    server.stop()
    proxy.close()


def test_a_lost_exec_reply_is_answered_as_the_commit_it_was(proxied_server):
    server, proxy = proxied_server
    iot = aws_client("iot", server.url)
    before = iot.describe_job_execution(thingName="device-1", jobId="firmware-update")["execution"]
    assert (before["status"], before["versionNumber"]) == ("QUEUED", 1)
    proxy.armed.set()
    iot.cancel_job_execution(thingName="device-1", jobId="firmware-update", expectedVersion=1,
                             statusDetails={"why": "lost reply"})
    assert proxy.dropped.is_set()
    after = iot.describe_job_execution(thingName="device-1", jobId="firmware-update")["execution"]
    assert (after["status"], after["versionNumber"]) == ("CANCELED", 2)
    assert after["statusDetails"]["detailsMap"] == {"why": "lost reply"}

    proxy.dropped.clear()
    proxy.armed.set()
    created = iot.create_job(jobId="after-drop", targets=[before["thingArn"]], document="{}")
    assert created["jobId"] == "after-drop" and proxy.dropped.is_set()
    listed = iot.list_jobs()["jobs"]
    assert [job["jobId"] for job in listed].count("after-drop") == 1


def test_resets_under_concurrent_submits_leave_no_orphans(redis_url, tmp_path):
    prefix = f"reset-{uuid.uuid4().hex[:8]}"
    server = start_server(tmp_path, "--store", redis_url, "--store-prefix", prefix)
    stop = threading.Event()
    submitted = []
    try:
        def submit():
            batch = aws_client("batch", server.url)
            while not stop.is_set():
                batch.submit_job(jobName="race", jobQueue="default", jobDefinition="report")
                submitted.append(1)
        threads = [threading.Thread(target=submit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(10):
            # back to the fixtures (which hold the queue and definition the submits name)
            reset = httpx.post(f"{server.url}/_cancelgate/reset", json={"fixtures": True}, timeout=30)
            assert reset.status_code == 200
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert len(submitted) > 20   # the resets really raced writes
    finally:
        stop.set()
        server.stop()
    import redis
    client = redis.Redis.from_url(redis_url)
    ids = {k.decode() for k in client.smembers(f"{prefix}:ids:batch_jobs")}
    head = f"{prefix}:doc:batch_jobs:"
    docs = {k.decode()[len(head):] for k in client.scan_iter(f"{head}*", count=1000)}
    assert docs == ids
