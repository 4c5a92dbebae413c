"""A configuration the server cannot serve is refused at start: exit 2 and one line on stderr
naming the option or file (and the key), never a traceback or a loop."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, free_port


def serve(*args: str, cwd=ROOT, env=None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cancelgate.cli", "serve", "--port", str(free_port()), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def refused(run: subprocess.CompletedProcess, *words: str) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stdout + run.stderr
    assert len(lines) == 1 or lines[0].startswith("usage:"), run.stderr  # argparse adds its usage line
    assert "Traceback" not in run.stderr
    line = lines[-1]
    for word in words:
        assert word in line, line
    return line


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, words", [
    ("batch:\n  durations:\n    SUBMITED: 1\n", ["unknown key 'SUBMITED'", "batch/durations"]),
    ("batch:\n  durations:\n    RUNNING: -1\n", ["batch/durations/RUNNING", "minimum"]),
    ("batch:\n  capacity:\n    default: 0\n", ["batch/capacity/default"]),
    ("iot:\n  outcomes:\n    SUCCEEDED: 0.5\n    FAILED: 0.2\n", ["iot/outcomes", "sum to 0.7"]),
    ("s3:\n  durations: {}\n", ["unknown family 's3'"]),
    ("batch: [1, 2\n", ["not valid YAML"]),
    ("- a list\n", ["must be a mapping"]),
])
def test_a_bad_lifecycle_file_is_refused_naming_file_and_key(tmp_path, text, words):
    path = write(tmp_path, "life.yaml", text)
    refused(serve("--lifecycle", str(path)), str(path), *words)


def test_a_partial_lifecycle_file_is_merged_over_the_default(tmp_path):
    from cancelgate.app import lifecycle_settings
    from cancelgate.settings import Settings
    path = write(tmp_path, "life.yaml", "batch:\n  durations:\n    RUNNING: 3\n")
    config = lifecycle_settings(Settings(lifecycle=str(path)))
    assert config["batch"]["durations"]["RUNNING"] == 3
    assert config["batch"]["durations"]["STARTING"] == 2         # the default's, kept
    assert config["batch"]["capacity"]["queues"]["gpu"] == 1
    assert set(config) == {"batch", "iot", "vault"}


@pytest.mark.parametrize("text, words", [
    ('{"batch_jobs": {', ["is not valid JSON"]),
    ('[1, 2]', ["top level must be an object"]),
    ('{"s3_buckets": {}}', ["unknown table 's3_buckets'"]),
    ('{"batch_jobs": {"a": {"status": "RUNNING", "createdAt": 1}}}', ["batch_jobs/a", "jobId"]),
    ('{"batch_jobs": []}', ["batch_jobs must be an object"]),
])
def test_a_bad_fixture_file_is_refused_naming_it(tmp_path, text, words):
    path = write(tmp_path, "jobs.json", text)
    refused(serve("--fixtures", str(path)), str(path), *words)


def test_a_bad_db_file_is_refused_at_start_not_on_every_tick(tmp_path):
    db = write(tmp_path, "state.json", json.dumps({"batch_jobs": {"x": {"status": "RUNNING"}}}))
    refused(serve("--db", str(db)), f"--db {db}", "jobId")
    broken = write(tmp_path, "broken.json", "{nope")
    refused(serve("--db", str(broken)), f"--db {broken}", "invalid JSON")


def test_db_paths_that_cannot_be_a_file_leave_no_lock_behind(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    refused(serve("--db", str(folder)), f"--db {folder}", "is a directory")
    missing = tmp_path / "nowhere" / "state.json"
    refused(serve("--db", str(missing)), f"--db {missing}", "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    assert list(folder.iterdir()) == []


def test_aws_credentials_missing_unparsable_or_empty_are_three_messages(tmp_path):
    missing = tmp_path / "none"
    refused(serve("--aws-credentials", str(missing)), str(missing), "no such file")
    garbage = write(tmp_path, "garbage", "this is not an ini file\n")
    refused(serve("--aws-credentials", str(garbage)), str(garbage), "is not an AWS credentials file")
    empty = write(tmp_path, "empty", "[default]\nregion = us-east-1\n")
    refused(serve("--aws-credentials", str(empty)), str(empty), "holds no aws_access_key_id")


@pytest.mark.parametrize("args, words", [
    (["--port", "0"], ["--port", "1 to 65535"]),
    (["--port", "70000"], ["--port", "1 to 65535"]),
    (["--max-body", "-1"], ["--max-body", "negative"]),
    (["--journal-size", "-5"], ["--journal-size", "negative"]),
    (["--workers", "0"], ["--workers", "at least 1"]),
    (["--body-timeout", "0"], ["--body-timeout"]),
    (["--store", "memcached://x"], ["--store", "redis://"]),
])
def test_bad_option_values_are_refused(args, words):
    run = subprocess.run([sys.executable, "-m", "cancelgate.cli", "serve", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    refused(run, *words)


def test_a_port_in_use_is_one_line_before_startup(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "cancelgate.cli", "serve", "--port", str(port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = refused(run, f"port {port}", "--port")
    assert "startup complete" not in run.stdout + run.stderr, line


def test_redis_store_without_the_redis_package_is_one_line_and_no_respawn(tmp_path):
    # a `redis` that cannot be imported, as on a machine without the extra
    shadow = tmp_path / "shadow" / "redis"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named redis')\n")
    import os
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}
    for workers in ("1", "3"):
        run = serve("--store", "redis://127.0.0.1:1/0", "--workers", workers, env=env)
        refused(run, "pip install 'cancelgate[redis]'")


def test_an_unreachable_redis_is_one_line(tmp_path):
    pytest.importorskip("redis")
    refused(serve("--store", f"redis://127.0.0.1:{free_port()}/0"), "cannot reach Redis")
    refused(serve("--store", f"redis://127.0.0.1:{free_port()}/0", "--workers", "2"), "cannot reach Redis")
