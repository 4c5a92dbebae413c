"""The live state page at /_cancelgate/, driven in headless Chromium over the DevTools protocol:
it renders every family, a cancel made through boto3 shows up in its timeline within 2 s, its
advance control moves the manual clock, and it honours --admin-token."""
from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import httpx
import pytest

from cancelgate import Control
from tests.conftest import aws_client, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium page, driven through the DevTools protocol (websockets' sync client)."""

    def __init__(self, url: str, folder):
        if CHROMIUM is None:
            pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")
        from websockets.sync.client import connect
        self.log = (folder / "chromium.log").open("w+b")
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1400,1000", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={folder / 'profile'}", url],
            stdout=subprocess.DEVNULL, stderr=self.log)
        port = self._devtools_port()
        deadline = time.monotonic() + 30
        while True:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            pages = [t for t in json.load(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=5))
                     if t["type"] == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.connection = contextlib.ExitStack()
        self.socket = self.connection.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20))
        self.next_id = 0

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            found = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", self.log.read())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError(f"Chromium did not start: {self.log.read()[-2000:]!r}")

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float) -> float:
        """Seconds until `expression` is truthy in the page; fails after `timeout`."""
        started = time.monotonic()
        guarded = f"(() => {{ try {{ return !!({expression}); }} catch (error) {{ return false; }} }})()"
        while not self.evaluate(guarded):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not within {timeout} s: {expression}")
            time.sleep(0.05)
        return time.monotonic() - started

    def screenshot(self, path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        try:
            self.connection.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
            self.log.close()


@pytest.fixture
def browser_on(tmp_path):
    opened = []

    def open_page(url: str) -> Browser:
        folder = tmp_path / f"browser-{len(opened)}"
        folder.mkdir()
        browser = Browser(url, folder)
        opened.append(browser)
        return browser
    yield open_page
    for browser in opened:
        browser.close()


RENDERED = "document.body.dataset.refreshed !== undefined"


def test_page_renders_and_shows_a_boto3_cancel_within_2_s(live, browser_on, tmp_path):
    page = browser_on(f"{live.url}/_cancelgate/")
    page.wait_for(RENDERED, 30)
    for family in ("batch", "iot", "vault"):
        assert page.evaluate(f"!!document.getElementById('family-{family}')"), family
    assert page.evaluate("document.querySelectorAll('#table-batch_jobs table.rows tbody tr').length") > 0
    assert page.evaluate("document.getElementById('clock-mode').textContent") == "manual"
    shown = "getComputedStyle(document.getElementById('{}')).display !== 'none'"
    assert page.evaluate(shown.format("advance")) is True
    assert page.evaluate(shown.format("token-form")) is False  # no --admin-token here
    # each row links to its JSON, which the page shows when the row is chosen
    href = page.evaluate("document.querySelector('#table-batch_jobs a.id').getAttribute('href')")
    assert httpx.get(live.url + href).json()["jobId"] == href.rsplit("/", 1)[-1]
    page.evaluate("document.querySelector('#table-batch_jobs a.id').click()")
    page.wait_for("document.getElementById('document').textContent.includes('jobQueue')", 5)

    batch = aws_client("batch", live.url)
    job_id = batch.submit_job(jobName="watched", jobQueue="default", jobDefinition="report:1")["jobId"]
    batch.cancel_job(jobId=job_id, reason="seen on the page")
    cancelled = f"#timeline tr.transition[data-id='{job_id}'][data-to='FAILED']"
    took = page.wait_for(f"!!document.querySelector(\"{cancelled}\")", 2)
    row = page.evaluate(f"document.querySelector(\"{cancelled}\").textContent")
    assert "SUBMITTED" in row and "CancelJob" in row, row
    row = f"#table-batch_jobs tr[data-id='{job_id}'][data-status='FAILED']"
    assert page.evaluate(f"!!document.querySelector(\"{row}\")")
    print(f"cancel visible on the page after {took:.2f} s")

    # fault rules with their counters
    control = Control(live.url)
    control.put_faults([{"match": {"operationId": "DescribeJobs"}, "fault": {"code": "ServerException"}, "count": 3}])
    with pytest.raises(batch.exceptions.ServerException):
        batch.describe_jobs(jobs=[job_id])
    page.wait_for("(document.querySelector('#faults tr.fault td.fired') || {}).textContent === '1'", 3)

    # the advance control moves the manual clock
    before = control.get_clock()["now"]
    page.evaluate("document.getElementById('advance-seconds').value = '30';"
                  "document.querySelector('#advance button').click()")
    deadline = time.monotonic() + 5
    while control.get_clock()["now"] < before + 30_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert control.get_clock()["now"] >= before + 30_000

    shot = tmp_path / "state-page.png"
    page.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_page_polling_does_not_fill_the_journal(live, browser_on):
    control = Control(live.url)
    page = browser_on(f"{live.url}/_cancelgate/")
    page.wait_for(RENDERED, 30)
    control.clear_requests()
    refreshed = page.evaluate("document.body.dataset.refreshed")
    time.sleep(2.5)
    assert page.evaluate("document.body.dataset.refreshed") != refreshed  # it polled meanwhile
    paths = [r["path"] for r in control.list_requests()]
    assert "/_cancelgate/state" not in paths and len(paths) <= 3, paths  # the clear, maybe a favicon


def test_page_honours_the_admin_token(tmp_path, browser_on):
    server = start_server(tmp_path, "--admin-token", "s3cret")
    try:
        assert httpx.get(f"{server.url}/_cancelgate/state").status_code == 401
        locked = browser_on(f"{server.url}/_cancelgate/")
        locked.wait_for("!document.getElementById('token-form').hidden", 10)
        assert locked.evaluate("document.querySelectorAll('section.family').length") == 0
        assert "admin token" in locked.evaluate("document.getElementById('problem').textContent")
        opened = browser_on(f"{server.url}/_cancelgate/#token=s3cret")
        opened.wait_for(RENDERED, 30)
        from cancelgate.families import REGISTRY
        with_tables = sum(1 for family in REGISTRY.values() if family.tables)
        assert opened.evaluate("document.querySelectorAll('section.family').length") == with_tables
        assert opened.evaluate("location.hash") == ""  # the token does not stay in the address bar
    finally:
        server.stop()


def test_state_views_are_bounded_and_keep_secrets(live):
    control = Control(live.url)
    state = control.get_state(limit=2, transitions=0)
    jobs = state["families"]["batch"]["tables"]["batch_jobs"]
    assert jobs["count"] > 2 and jobs["scanned"] == 2 and len(jobs["rows"]) == 2
    assert sum(jobs["byStatus"].values()) == 2
    assert state["transitions"] == []
    session = httpx.post(f"{live.url}/api/v26.1/auth",
                         data={"username": "alice@promomats.example.com", "password": "cancelgate"}).json()["sessionId"]
    full = control.get_state()
    sessions = full["families"]["vault"]["tables"]["vault_sessions"]
    assert sessions["count"] >= 1 and sessions["rows"] == []
    assert session not in json.dumps(full)
    assert "password" not in control.get_document("vault_users", "alice@promomats.example.com")
    from cancelgate import ControlError
    with pytest.raises(ControlError) as caught:
        control.get_document("vault_sessions", session)
    assert caught.value.status == 404
    with pytest.raises(ControlError):
        control.get_document("batch_jobs", str(uuid.uuid4()))
