"""`cancelgate spec` and `cancelgate check`, as a user runs them."""
from __future__ import annotations

import subprocess
import sys

import httpx
import yaml

from tests.conftest import ROOT


def cancelgate(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cancelgate.cli", *args], cwd="/", capture_output=True,
                          text=True, timeout=timeout, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_spec_prints_the_family_spec():
    printed = cancelgate("spec", "batch")
    assert printed.returncode == 0
    assert yaml.safe_load(printed.stdout) == yaml.safe_load((ROOT / "openapi" / "batch.yaml").read_text())
    unknown = cancelgate("spec", "s3")
    assert unknown.returncode == 2 and "batch" in unknown.stderr


def test_check_passes_against_a_good_deployment(live):
    run = cancelgate("check", "--url", live.url, "--family", "batch", "--max-examples", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("batch: ok (")


def test_check_fails_on_a_violation(live, http):
    # a deployment that answers every Batch call with a 500 breaks the not-a-server-error check
    http.put("/_cancelgate/faults", json={"rules": [{"match": {"family": "batch"},
                                                     "fault": {"code": "ServerException"}}]})
    try:
        run = cancelgate("check", "--url", live.url, "--family", "batch", "--max-examples", "3")
    finally:
        httpx.delete(f"{live.url}/_cancelgate/faults")
    assert run.returncode == 1
    assert "batch: FAILED" in run.stdout
