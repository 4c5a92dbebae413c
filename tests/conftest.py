"""Live-server fixtures: the real `cancelgate serve` on a free loopback port, driven by real clients."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

# The server-start code and the boto3 client factory are the pytest plugin's, shipped in the
# package (dogfooding: what users get is what this suite runs on).
from cancelgate.pytest_plugin import Server, aws_client, free_port
from cancelgate.pytest_plugin import start_server as _start_server

ROOT = Path(__file__).resolve().parent.parent


def start_server(tmp: Path, *args: str, wait: bool = True) -> Server:
    """Start `cancelgate serve` with `args` on a free port (manual clock); wait until it answers."""
    return _start_server(tmp, *args, wait=wait, cwd=ROOT)


def start_redis(folder: Path, port: int | None = None) -> tuple[str, subprocess.Popen]:
    """A redis-server on loopback that keeps every acknowledged write (appendfsync always)."""
    if REDIS_SERVER is None:
        pytest.skip("no redis-server here (.ci/run installs Debian's redis-server)")
    port = port or free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=(folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return url, process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(folder / 'redis.log').read_text()}") from None
            time.sleep(0.05)


REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """CANCELGATE_TEST_REDIS if set, else a redis-server of our own for the session."""
    if os.environ.get("CANCELGATE_TEST_REDIS"):
        yield os.environ["CANCELGATE_TEST_REDIS"]
        return
    if REDIS_SERVER is None:
        pytest.skip("no redis-server here (.ci/run installs Debian's redis-server)")
    url, process = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(timeout=20)


BACKENDS = ["tinydb", "redis"]


def pytest_generate_tests(metafunc):
    """The live server is TinyDB-backed; tests marked `both_stores` run once per backend."""
    if "server" in metafunc.fixturenames and not hasattr(metafunc.module, "server"):  # a module's own wins
        both = metafunc.definition.get_closest_marker("both_stores") is not None
        metafunc.parametrize("server", BACKENDS if both else BACKENDS[:1], indirect=True, scope="session")


@pytest.fixture(scope="session")
def server(request, tmp_path_factory) -> Server:
    """The live server, one per store backend, shared by the session's tests."""
    args = []
    if request.param == "redis":
        args = ["--store", request.getfixturevalue("redis_url"), "--store-prefix", f"live-{uuid.uuid4().hex[:8]}"]
    started = start_server(tmp_path_factory.mktemp(f"live-{request.param}"), *args)
    yield started
    started.stop()


@pytest.fixture
def live(server) -> Server:
    """The shared server, with the fixtures restored before the test."""
    response = httpx.post(f"{server.url}/_cancelgate/reset", json={"fixtures": True})
    assert response.status_code == 200, response.text
    return server


@pytest.fixture
def batch(live):
    return aws_client("batch", live.url)


@pytest.fixture
def iot(live):
    return aws_client("iot", live.url)


@pytest.fixture
def http(live):
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
