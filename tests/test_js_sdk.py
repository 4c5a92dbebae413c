"""The AWS SDK for JavaScript v3 (`@aws-sdk/client-iot-jobs-data-plane` and `@aws-sdk/client-iot`,
pinned by tests/js/package-lock.json) runs the firmware rollout against a live server, with
node's built-in test runner. Skipped without node and npm; `npm ci` needs the npm registry once."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

JS = ROOT / "tests" / "js"
NODE, NPM = shutil.which("node"), shutil.which("npm")


@pytest.fixture(scope="module")
def node_modules():
    if NODE is None or NPM is None:
        pytest.skip("node and npm are needed for the JS SDK test")
    if not (JS / "node_modules" / "@aws-sdk" / "client-iot-jobs-data-plane").is_dir():
        run = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True,
                             text=True, timeout=600)
        if run.returncode != 0:
            pytest.skip(f"npm ci failed (no registry?): {run.stderr[-500:]}")
    return JS / "node_modules"


def test_js_sdk_runs_the_rollout(node_modules, live):
    run = subprocess.run([NODE, "--test", "jobs_data.test.mjs"], cwd=JS, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "CANCELGATE_URL": live.url})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# pass 2" in run.stdout and "# fail 0" in run.stdout
