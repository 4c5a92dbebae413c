"""A wheel carries the specs and fixtures, and the installed package finds them."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_wheel_carries_specs_and_fixtures(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=300)
    wheel = next(tmp_path.glob("cancelgate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in (ROOT / "openapi").glob("*.yaml"):
        assert f"cancelgate/openapi/{spec.name}" in names
    for fixture in (ROOT / "data").iterdir():
        assert f"cancelgate/data/{fixture.name}" in names
    assert "cancelgate/web/state_page.html" in names
    assert "cancelgate/pytest_plugin.py" in names and "cancelgate/control_client.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[pytest11]\ncancelgate = cancelgate.pytest_plugin" in zipfile.ZipFile(wheel).read(entry_points).decode()
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    found = subprocess.run(
        [sys.executable, "-c", "from cancelgate.resources import specs_dir, data_dir; print(specs_dir()); print(data_dir())"],
        cwd=tmp_path, env={"PYTHONPATH": str(unpacked)}, capture_output=True, text=True, check=True)
    assert found.stdout.split() == [str(unpacked / "cancelgate" / "openapi"), str(unpacked / "cancelgate" / "data")]
