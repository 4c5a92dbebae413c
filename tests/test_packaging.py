"""A wheel carries the package under the import name `cancelgate`, with its specs and fixtures,
and installed without any extra into a fresh virtualenv it serves."""
from __future__ import annotations

import subprocess
import sys
import time
import venv
import zipfile

import httpx
import pytest

from tests.conftest import ROOT, free_port


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, timeout=300)
    return next(out.glob("cancelgate-*.whl"))


def test_wheel_carries_every_module_specs_and_fixtures(wheel, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (ROOT / "handlers").rglob("*.py"):
        assert f"cancelgate/{module.relative_to(ROOT / 'handlers').as_posix()}" in names, module
    for spec in (ROOT / "openapi").iterdir():
        assert f"cancelgate/openapi/{spec.name}" in names
    for fixture in (ROOT / "data").iterdir():
        assert f"cancelgate/data/{fixture.name}" in names
    assert not any(name.startswith("handlers/") for name in names)  # never shadows a user's `handlers`
    assert "cancelgate/web/state_page.html" in names
    assert "cancelgate/pytest_plugin.py" in names and "cancelgate/control_client.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[pytest11]\ncancelgate = cancelgate.pytest_plugin" in zipfile.ZipFile(wheel).read(entry_points).decode()
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    found = subprocess.run(
        [sys.executable, "-c",
         "from cancelgate.resources import specs_dir, data_dir; print(specs_dir()); print(data_dir())"],
        cwd=tmp_path, env={"PYTHONPATH": str(unpacked)}, capture_output=True, text=True, check=True)
    assert found.stdout.split() == [str(unpacked / "cancelgate" / "openapi"), str(unpacked / "cancelgate" / "data")]


@pytest.mark.slow
def test_the_wheel_without_extras_serves_in_a_fresh_venv(wheel, tmp_path):
    """The README's first command on a clean machine: no test extra, no botocore, no redis."""
    venv.create(tmp_path / "v", with_pip=True)
    pip = tmp_path / "v" / "bin" / "pip"
    try:
        subprocess.run([str(pip), "install", "-q", str(wheel)], check=True, timeout=600,
                       capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot install the wheel's dependencies here: {error.stderr[-500:]}")
    missing = subprocess.run([str(tmp_path / "v" / "bin" / "python"), "-c", "import botocore"],
                             capture_output=True)
    assert missing.returncode != 0  # the runtime needs no AWS SDK
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([str(tmp_path / "v" / "bin" / "cancelgate"), "serve", "--port", str(port)],
                               cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                health = httpx.get(f"{url}/_cancelgate/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["counts"]["batch_jobs"] == 15
        cancel = httpx.post(f"{url}/v1/canceljob", timeout=5,
                            json={"jobId": "00000000-0000-4000-8000-000000000006", "reason": "fresh"})
        assert cancel.status_code == 200, cancel.text
        assert cancel.json() == {}
    finally:
        process.terminate()
        process.wait(timeout=20)
