"""Every spec passes openapi-spec-validator and Spectral with our committed ruleset (.spectral.yaml)."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from tests.conftest import ROOT

SPECS = sorted((ROOT / "openapi").glob("*.yaml"))
LINT_TOOLS = ROOT / ".ci" / "lint-tools"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_spec_is_valid_openapi(spec):
    document, _ = read_from_filename(str(spec))
    validate(document)


def spectral() -> str:
    binary = LINT_TOOLS / "node_modules" / ".bin" / "spectral"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so Spectral cannot be fetched from the npm registry")
        subprocess.run([npm, "install", "--prefix", str(LINT_TOOLS), "--no-audit", "--no-fund", "--silent",
                        "@stoplight/spectral-cli@6"], check=True, timeout=600)
    return str(binary)


def test_spectral_finds_nothing():
    run = subprocess.run([spectral(), "lint", *map(str, SPECS), "--ruleset", str(ROOT / ".spectral.yaml"),
                          "--fail-severity", "warn"], capture_output=True, text=True, timeout=300)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
