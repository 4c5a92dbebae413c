"""The AWS SDK for JavaScript v3 (@aws-sdk/client-batch, @aws-sdk/client-iot and
@aws-sdk/client-iot-jobs-data-plane, pinned in
tests/js/package-lock.json) against the live server, with node's built-in test runner:
submit -> cancel -> describe, the modelled exceptions of every error botocore's models declare
for the operations we serve, and the SDK's retries over injected faults. Skipped without node/npm."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import botocore.session
import pytest
import yaml

from tests.conftest import ROOT

JS = ROOT / "tests" / "js"
NODE, NPM = shutil.which("node"), shutil.which("npm")
SERVICES = {"batch": "batch", "iot": "iot"}  # our family -> botocore's service name


def declared_errors() -> tuple[dict, list]:
    """Per family, each served operation with the errors botocore declares for it that the server
    can inject (x-cancelgate-fault); and the (operation, error) pairs it cannot inject."""
    from cancelgate.web.wire import wire_from_spec
    session = botocore.session.get_session()
    manifest, missing = {}, []
    for family, service in SERVICES.items():
        spec = yaml.safe_load((ROOT / "openapi" / f"{family}.yaml").read_text())
        injectable = wire_from_spec(spec["x-cancelgate-wire"]).fault_codes()
        model = session.get_service_model(service)
        served = sorted({op["operationId"] for item in spec["paths"].values() for op in item.values()
                         if isinstance(op, dict) and "operationId" in op} & set(model.operation_names))
        manifest[family] = {}
        for operation in served:
            errors = [shape.name for shape in model.operation_model(operation).error_shapes]
            manifest[family][operation] = [e for e in errors if e in injectable]
            missing += [(operation, e) for e in errors if e not in injectable]
    return manifest, missing


def npm_ci() -> None:
    installed = JS / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= (JS / "package-lock.json").stat().st_mtime:
        return
    run = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.skip(f"npm ci could not install the pinned SDK: {run.stderr[-1500:]}")


@pytest.mark.skipif(NODE is None or NPM is None, reason="node and npm are not installed")
def test_aws_sdk_for_javascript_suite(live):
    npm_ci()
    manifest, missing = declared_errors()
    print("declared errors the server cannot inject:", missing)
    env = {**os.environ, "CANCELGATE_URL": live.url, "CANCELGATE_ERRORS": json.dumps(manifest),
           "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("HTTP_PROXY", None), env.pop("http_proxy", None)
    passed = 0
    for suite in sorted(JS.glob("*.test.mjs")):  # one file at a time: each resets the one server
        run = subprocess.run([NODE, "--test", "--test-reporter=tap", suite.name], cwd=JS, env=env,
                             capture_output=True, text=True, timeout=600)
        print(run.stdout[-4000:])
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert re.search(r"^# fail 0$", run.stdout, re.M), run.stdout[-3000:]
        passed += int(re.search(r"^# pass (\d+)", run.stdout, re.M).group(1))
    expected = sum(len(errors) for operations in manifest.values() for errors in operations.values())
    assert passed >= expected + 7  # the flows and the retries, besides one test per declared error
