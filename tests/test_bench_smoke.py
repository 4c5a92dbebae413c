"""The benchmarks run (tiny sizes); they assert nothing about speed."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_store_cost_bench_runs():
    run = subprocess.run([sys.executable, "bench/store_cost.py", "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 1")]
    assert len(rows) == 4


def test_http_bench_smoke_runs(tmp_path):
    """One second per case against a tiny store: wrk, cancelgate, the bare floor and moto all run."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (.ci/run installs Debian's wrk package)")
    out = tmp_path / "RESULTS.md"
    run = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = out.read_text()
    for server in ("bare", "cancelgate-memory", "cancelgate-db"):
        assert f"| {server} |" in table
    for scenario in ("alive", "alive, probe only", "array", "advance", "journal"):   # the engine's section
        assert f"| {scenario} |" in table
