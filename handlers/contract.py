"""`cancelgate check`: schemathesis, with our configuration and checks, against a deployment."""
from __future__ import annotations

import re
import subprocess
import sys

import yaml

from handlers.resources import schemathesis_config, specs_dir


def run_checks(url: str, families: list[str], max_examples: int | None) -> int:
    """Run schemathesis over each family's spec against `url`; 0 only if every run passed."""
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        print("cancelgate check needs schemathesis: pip install 'cancelgate[check]'", file=sys.stderr)
        return 2
    failed = []
    for family in families:
        spec = specs_dir() / f"{family}.yaml"
        base = yaml.safe_load(spec.read_text(encoding="utf-8"))["servers"][0]["url"].rstrip("/")
        command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(schemathesis_config()),
                   "run", str(spec), "--url", url + base, "--no-color"]
        if max_examples:
            command += ["--max-examples", str(max_examples)]
        run = subprocess.run(command, capture_output=True, text=True)
        cases = re.search(r"(\d+) generated.*", run.stdout)
        verdict = "ok" if run.returncode == 0 else "FAILED"
        print(f"{family}: {verdict} ({cases.group(0) if cases else 'no cases'})")
        if run.returncode != 0:
            failed.append(family)
            print(run.stdout[run.stdout.find("FAILURES"):] if "FAILURES" in run.stdout else run.stdout[-4000:])
    return 1 if failed else 0
