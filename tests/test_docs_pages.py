"""The landing page and each family's docs page, rendered by headless Chromium."""
from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest
import yaml

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPECS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "openapi").glob("*.yaml"))}


def rendered(url: str, tmp_path) -> str:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def base(spec: dict) -> str:
    return spec["servers"][0]["url"].rstrip("/")


def test_landing_page_lists_every_api(live, tmp_path):
    assert httpx.get(f"{live.url}/").headers["content-type"].startswith("text/html")
    dom = rendered(f"{live.url}/", tmp_path)
    for spec in SPECS.values():
        assert spec["info"]["title"] in dom
        assert f'href="{base(spec)}/ui/"' in dom and f'href="{base(spec)}/openapi.json"' in dom


@pytest.mark.parametrize("family", SPECS)
def test_docs_page_renders_every_operation(live, tmp_path, family):
    spec = SPECS[family]
    assert httpx.get(f"{live.url}{base(spec)}/openapi.json").status_code == 200
    dom = rendered(f"{live.url}{base(spec)}/ui/", tmp_path)
    assert "opblock" in dom, dom[-3000:]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "put", "post", "delete", "patch"):
                assert operation["summary"] in dom, f"{method.upper()} {path} not rendered"
