"""The benchmarks run (tiny sizes); they assert nothing about speed."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_store_cost_bench_runs():
    run = subprocess.run([sys.executable, "bench/store_cost.py", "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 1")]
    assert len(rows) == 4
