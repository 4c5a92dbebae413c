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
    lines = run.stdout.splitlines()
    spec = yaml.safe_load((ROOT / "openapi" / "batch.yaml").read_text())
    operations = sum(1 for item in spec["paths"].values() for method in item
                     if method in ("get", "post", "put", "delete"))
    assert lines[0] == "batch: loaded"  # progress first, one line per phase (not a terminal)
    assert any(line.startswith(f"batch: examples {operations}/{operations} operations (") for line in lines), lines
    assert any(line.startswith("batch: ok (") for line in lines)
    header, row = lines[-2].split(), lines[-1].split()
    assert header == ["family", "result", "operations", "cases", "time"]
    assert row[:3] == ["batch", "ok", str(operations)] and int(row[3]) > 0


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


def test_check_says_so_when_nothing_answers():
    from cancelgate.pytest_plugin import free_port
    url = f"http://127.0.0.1:{free_port()}"
    run = cancelgate("check", "--url", url, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(f"cancelgate check: nothing answers at {url} (")


def test_version_and_help():
    from cancelgate import __version__
    run = cancelgate("--version")
    assert (run.returncode, run.stdout) == (0, f"cancelgate {__version__}\n")
    top = cancelgate("--help").stdout
    assert "serve" in top and "check" in top and "examples:" in top and "`" not in top
    for command in ("serve", "check"):
        text = cancelgate(command, "--help").stdout
        options = [line.split()[0] for line in text.splitlines() if line.startswith("  --")]
        assert options, text
        # every option says what it does: no option line stands alone without help text
        for line in text.splitlines():
            if line.startswith("  --") and line.strip() in options and len(line.split()) <= 2:
                index = text.splitlines().index(line)
                assert text.splitlines()[index + 1].startswith(" " * 10), f"{command}: {line} has no help"
    serve = " ".join(cancelgate("serve", "--help").stdout.split())
    for default in ("(default: 127.0.0.1)", "(default: 4566)", "(default: real)", "(default: info)",
                    "(default: 1000)", "(default: in memory)"):
        assert default in serve, default


def test_serve_prints_one_summary(tmp_path):
    from tests.conftest import start_server
    server = start_server(tmp_path, "--admin-token", "t", "--no-lifecycle")
    server.stop()
    out = server.output()
    assert "Adding spec json" not in out
    summary = out[:out.index("INFO")]
    assert summary.startswith("cancelgate ") and f" on {server.url}\n" in summary.splitlines()[0] + "\n"
    fields = {line.split()[0]: line.split(None, 1)[1] for line in summary.splitlines()[1:]}
    assert fields["store"].startswith("in memory")
    assert fields["fixtures"].startswith("batch ") and " iot " in fields["fixtures"] and " vault " in fields["fixtures"]
    assert fields["clock"].startswith("manual")
    assert fields["lifecycle"].startswith("off")
    assert fields["docs"].startswith(f"{server.url}/")
    assert fields["control"] == f"{server.url}/_cancelgate: protected: Authorization: Bearer <--admin-token> required"
