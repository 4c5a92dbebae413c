"""cancelgate's pytest plugin (entry point `cancelgate` in the `pytest11` group): a real
`cancelgate serve` for the test session, and ready clients, with no code in the user's project.

Fixtures:
  cancelgate_server     session: the server (`.url`, `.control`, `.output()`), manual clock
  cancelgate            function: a `cancelgate.Control` on it, the store reset before the test
  batch_client, iot_client, iot_jobs_data_client
                        function: boto3 clients on it (dummy credentials, no retries)
  vault_session         function: an httpx.Client on `<url>/api/<version>` logged in as a Vault user

Options, in pytest.ini / pyproject's [tool.pytest.ini_options]:
  cancelgate_args       extra `cancelgate serve` arguments (e.g. --no-lifecycle)
  cancelgate_clock      manual (default) or real
  cancelgate_fixtures   true (default: the packaged fixtures) or false (an empty store)
  cancelgate_lifecycle  a lifecycle file merged over the packaged one
  cancelgate_admin_token
                        start the server with --admin-token (the fixtures send it)

A test or module marked `@pytest.mark.cancelgate(fixtures=False, clock="real", lifecycle=...,
args=[...], admin_token=...)` gets a dedicated server with those options (one per distinct
set of options, shared by every test that asks for the same, stopped at the end of the session).

boto3 and httpx are imported only by the fixtures that need them: `pip install 'cancelgate[pytest]'`.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cancelgate.control_client import Control

REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"
VAULT_VERSION = "v26.1"
VAULT_USER = "alice@promomats.example.com"
VAULT_PASSWORD = "cancelgate"
VAULT_ID = 1776
START_TIMEOUT_S = 30


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `cancelgate serve` subprocess: where it answers, the process and its log file."""

    url: str
    process: subprocess.Popen
    log: Path
    token: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def control(self) -> Control:
        return Control(self.url, token=self.token)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=20)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/_cancelgate/health", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any answer (a guarded control plane says 401) means it is serving
    except (urllib.error.URLError, OSError):
        return False


def start_server(tmp: Path, *args: str, wait: bool = True, cwd: Path | str | None = None,
                 env: dict | None = None) -> Server:
    """Start `cancelgate serve` with `args` on a free port of 127.0.0.1; wait until it answers.

    The clock is manual unless `args` say `--clock real`: nothing moves by itself, so tests are
    deterministic and advance time through the control plane when they mean to. The server's
    output goes to a log file under `tmp`.
    """
    port = free_port()
    log = Path(tmp) / f"server-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "cancelgate.cli", "serve", "--port", str(port), "--clock", "manual", *args],
        cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    token = None
    if "--admin-token" in args:
        token = args[args.index("--admin-token") + 1]
    server = Server(f"http://127.0.0.1:{port}", process, log, token)
    if wait:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"cancelgate serve exited with {process.returncode}:\n{server.output()}")
            if time.monotonic() > deadline:
                server.stop(signal.SIGKILL)
                raise RuntimeError(f"cancelgate serve did not answer within {START_TIMEOUT_S} s:\n{server.output()}")
            time.sleep(0.05)
    return server


# -- options ---------------------------------------------------------------------------------

def pytest_addoption(parser):
    parser.addini("cancelgate_args", "extra `cancelgate serve` arguments for the session's server", default="")
    parser.addini("cancelgate_clock", "the session server's clock: manual or real", default="manual")
    parser.addini("cancelgate_fixtures", "start from the packaged fixtures (true) or an empty store (false)",
                  type="bool", default=True)
    parser.addini("cancelgate_lifecycle", "a lifecycle file merged over the packaged one", default="")
    parser.addini("cancelgate_admin_token", "start the server with this --admin-token", default="")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cancelgate(fixtures=True, clock='manual', lifecycle=None, args=(), admin_token=None): "
                   "run the test against a dedicated cancelgate server started with these options")


_KNOWN = {"fixtures", "clock", "lifecycle", "args", "admin_token"}


def _ini_options(config) -> dict:
    return {"fixtures": config.getini("cancelgate_fixtures"),
            "clock": config.getini("cancelgate_clock") or "manual",
            "lifecycle": config.getini("cancelgate_lifecycle") or None,
            "args": tuple(shlex.split(config.getini("cancelgate_args") or "")),
            "admin_token": config.getini("cancelgate_admin_token") or None}


def _serve_args(options: dict) -> list[str]:
    if options["clock"] not in ("manual", "real"):
        raise pytest.UsageError(f"cancelgate: clock={options['clock']!r}; use 'manual' or 'real'")
    args = ["--clock", options["clock"]]
    if not options["fixtures"]:
        args.append("--no-fixtures")
    if options["lifecycle"]:
        args += ["--lifecycle", str(options["lifecycle"])]
    if options["admin_token"]:
        args += ["--admin-token", options["admin_token"]]
    return args + list(options["args"])


class _Servers:
    """Servers of this session, one per distinct set of options, stopped when it ends."""

    def __init__(self, factory):
        self.factory = factory
        self.running: dict[tuple, Server] = {}

    def get(self, options: dict) -> Server:
        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
        if key not in self.running:
            folder = self.factory.mktemp("cancelgate")
            server = start_server(folder, *_serve_args(options))
            server.options = options
            self.running[key] = server
        return self.running[key]

    def stop_all(self) -> None:
        for server in self.running.values():
            server.stop()
        self.running.clear()


@pytest.fixture(scope="session")
def _cancelgate_servers(tmp_path_factory):
    servers = _Servers(tmp_path_factory)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def cancelgate_server(pytestconfig, _cancelgate_servers) -> Server:
    """The session's cancelgate server, with the options of the ini keys."""
    return _cancelgate_servers.get(_ini_options(pytestconfig))


@pytest.fixture
def _cancelgate_active(request, pytestconfig, _cancelgate_servers) -> Server:
    """The server this test talks to: a dedicated one when it is marked, else the session's."""
    marker = request.node.get_closest_marker("cancelgate")
    if marker is None:
        return request.getfixturevalue("cancelgate_server")
    unknown = set(marker.kwargs) - _KNOWN
    if unknown or marker.args:
        raise pytest.UsageError(f"@pytest.mark.cancelgate takes keywords {sorted(_KNOWN)}; "
                                f"got {sorted(unknown) or list(marker.args)}")
    options = {**_ini_options(pytestconfig), **marker.kwargs}
    options["args"] = tuple(options["args"])
    return _cancelgate_servers.get(options)


@pytest.fixture
def cancelgate(_cancelgate_active) -> Control:
    """The control plane of this test's server, the state reset (fixtures back, faults gone) and
    the request journal emptied first, so `list_requests()` shows this test's calls."""
    control = _cancelgate_active.control
    control.reset()  # replaces every table, the fault rules' included
    control.clear_requests()
    return control


def _boto3():
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        pytest.fail("the cancelgate client fixtures need boto3: pip install 'cancelgate[pytest]'", pytrace=False)
    return boto3, Config


def aws_client(service: str, url: str, retries: dict | None = None, **config):
    """A boto3 client of `service` on `url`: dummy credentials, us-east-1, no retry at all."""
    boto3, Config = _boto3()
    return boto3.client(
        service, endpoint_url=url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        # botocore's max_attempts counts retries; total_max_attempts 1 means no retry at all
        config=Config(retries=retries or {"mode": "standard", "total_max_attempts": 1}, **config))


@pytest.fixture
def batch_client(cancelgate):
    return aws_client("batch", cancelgate.url)


@pytest.fixture
def iot_client(cancelgate):
    return aws_client("iot", cancelgate.url)


@pytest.fixture
def iot_jobs_data_client(cancelgate):
    return aws_client("iot-jobs-data", cancelgate.url)


@pytest.fixture
def vault_session(cancelgate):
    """An httpx.Client on `<url>/api/v26.1`, its Authorization header a fresh Vault session.

    It logs in as the fixture user (alice@promomats.example.com); on a server without fixtures
    it first puts that user through the control plane.
    """
    try:
        import httpx
    except ImportError:
        pytest.fail("the vault_session fixture needs httpx: pip install 'cancelgate[pytest]'", pytrace=False)
    client = httpx.Client(base_url=f"{cancelgate.url}/api/{VAULT_VERSION}", timeout=30, trust_env=False)
    credentials = {"username": VAULT_USER, "password": VAULT_PASSWORD}
    answer = client.post("/auth", data=credentials).json()
    if answer.get("responseStatus") != "SUCCESS":
        cancelgate.put_vault_user(VAULT_USER, password=VAULT_PASSWORD, vault_id=VAULT_ID)
        answer = client.post("/auth", data=credentials).json()
    if answer.get("responseStatus") != "SUCCESS":
        client.close()
        pytest.fail(f"cannot open a Vault session: {answer}", pytrace=False)
    client.headers["Authorization"] = answer["sessionId"]
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _cancelgate_environment():
    """boto3 must not look for an EC2 instance role when a test's credentials are missing."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    yield
