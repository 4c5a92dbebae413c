"""Done-when test of issue 16: veevatools 1.0.21 (a Vault REST client on PyPI), unpatched, against a
live server: login with its default API version, Cancel Job through its generic `api_call`,
Retrieve Job Status until CANCELLED (within the once-per-10-s limit, on the manual clock), job
monitors, job histories, keep-alive and validate-session-user.

veevatools is installed into a venv the test makes under tmp_path (--system-site-packages, so
`requests` comes from here); the test is skipped with the reason when pip cannot install it.
Before logging in, veevatools calls https://login.veevavault.com/auth/discovery (hard-coded,
outbound): the client script blocks every request that is not for this server with veevatools'
own send-guard hook (`veevatools.utilities.http_utils.set_session_send_guard`), and veevatools
falls back to password login, as it does whenever discovery fails.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import httpx
import pytest

from tests.conftest import start_server

VERSION = "1.0.21"

CLIENT = textwrap.dedent('''
    import json, sys
    import requests
    from veevatools.utilities import http_utils

    BASE = sys.argv[1]
    blocked = []

    def guard(send):
        def guarded(request, **kwargs):
            if not request.url.startswith(BASE + "/"):
                blocked.append(request.url)
                raise requests.ConnectionError("blocked outbound call to " + request.url)
            return send(request, **kwargs)
        return guarded

    http_utils.set_session_send_guard(guard)
    from veevatools.veevavault import VaultClient
    from veevatools.veevavault.services.jobs import JobsService

    def advance(seconds):
        requests.post(BASE + "/_cancelgate/clock/advance", json={"seconds": seconds}, timeout=10)

    out = {"blocked": blocked}
    client = VaultClient()
    out["default_version"] = client.LatestAPIversion
    client.authenticate(vaultURL=BASE, vaultUserName="alice@promomats.example.com", vaultPassword="cancelgate")
    out["version"] = client.LatestAPIversion
    out["versions"] = client.APIversionList
    out["session"] = client.sessionId
    jobs = JobsService(client)
    out["cancel"] = client.api_call(f"api/{client.LatestAPIversion}/services/jobs/actions/cancel", method="POST",
                                    json=[{"job_id": 1002}, {"job_id": 1004}])
    polls = [jobs.retrieve_job_status(1002)]
    polls.append(jobs.retrieve_job_status(1002))  # within 10 s: API_LIMIT_EXCEEDED
    for _ in range(5):
        if polls[-1].get("data", {}).get("status") == "CANCELLED":
            break
        advance(10)
        polls.append(jobs.retrieve_job_status(1002))
    out["polls"] = polls
    out["monitors"] = jobs.retrieve_job_monitors()
    out["histories"] = jobs.retrieve_job_histories(status="cancelled")
    out["keep_alive"] = client.session_keep_alive()
    out["me"] = client.validate_session_user()
    print(json.dumps(out))
''')


@pytest.fixture(scope="module")
def veevatools_python(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("veevatools")
    venv = folder / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a venv: {made.stderr[-500:]}")
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                f"veevatools=={VERSION}"], capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        pytest.skip(f"veevatools {VERSION} cannot be installed here: {installed.stderr.strip()[-500:]}")
    return python


def test_veevatools_cancel_poll_monitor_history_keepalive(veevatools_python, tmp_path):
    server = start_server(tmp_path)
    try:
        script = tmp_path / "client.py"
        script.write_text(CLIENT)
        ran = subprocess.run([veevatools_python, str(script), server.url], capture_output=True, text=True,
                             timeout=300, env={"NO_PROXY": "127.0.0.1,localhost", "PATH": "/usr/bin:/bin"})
        assert ran.returncode == 0, ran.stderr[-3000:]
        out = json.loads(ran.stdout.strip().splitlines()[-1])

        # login with its default version, then the newest version GET /api/ lists
        assert out["default_version"] == "v26.3" and out["version"] == "v26.3"
        assert out["versions"][0] == "v7.0" and out["versions"][-1] == "v26.3"
        assert out["blocked"] == ["https://login.veevavault.com/auth/discovery?username=alice%40promomats.example.com"]

        cancel = out["cancel"]
        assert cancel["responseStatus"] == "SUCCESS"
        assert cancel["data"][0] == {"responseStatus": "SUCCESS", "data": {"id": 1002}}
        assert cancel["data"][1]["errors"]["type"] == "INVALID_DATA"       # RUNNING does not cancel

        polls = out["polls"]
        assert polls[0]["data"]["status"] == "CANCELLING"
        assert polls[1]["responseStatus"] == "FAILURE" and polls[1]["errors"][0]["type"] == "API_LIMIT_EXCEEDED"
        assert polls[-1]["data"]["status"] == "CANCELLED"
        assert polls[-1]["data"]["run_end_date"].endswith("Z")

        monitors = out["monitors"]
        assert monitors["responseStatus"] == "SUCCESS"
        listed = {job["job_id"]: job for job in monitors["jobs"]}
        assert 1001 in listed and 1002 not in listed          # CANCELLED is finished
        assert {job["status"] for job in monitors["jobs"]} <= {"SCHEDULED", "QUEUED", "QUEUEING", "RUNNING",
                                                               "CANCELLING"}
        assert monitors["responseDetails"]["total"] == len(monitors["jobs"])

        histories = out["histories"]
        assert histories["responseStatus"] == "SUCCESS"
        mine = [job for job in histories["jobs"] if job["job_id"] == 1002]
        assert mine and mine[0]["status"] == "cancelled" and mine[0]["run_end_date"].endswith("Z")
        assert {job["status"] for job in histories["jobs"]} == {"cancelled"}

        assert out["keep_alive"] == {"responseStatus": "SUCCESS"}
        me = out["me"]
        assert me["responseStatus"] == "SUCCESS"
        assert me["users"][0]["user"]["user_name__v"] == "alice@promomats.example.com"

        journal = httpx.get(f"{server.url}/_cancelgate/requests").text
        assert out["session"] not in journal
    finally:
        server.stop()
