"""`cancelgate check`: schemathesis, with our configuration and checks, against a deployment."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import yaml

from cancelgate.resources import schemathesis_config, specs_dir

FIXTURE_VAULT_USER = ("alice@promomats.example.com", "cancelgate")


def vault_session(url: str, user: str, password: str) -> str | None:
    """Log in to the deployment's Vault API; the session id, or None if the login failed."""
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    with urllib.request.urlopen(f"{url}/api/v26.2/auth", data=form, timeout=30) as answer:
        return json.load(answer).get("sessionId")


def command(url: str, family: str, *, max_examples: int | None = None, seed: int | None = None,
            vault_user: tuple[str, str] = FIXTURE_VAULT_USER) -> list[str]:
    """The schemathesis command line for one family of a deployment at `url`."""
    spec = specs_dir() / f"{family}.yaml"
    base = yaml.safe_load(spec.read_text(encoding="utf-8"))["servers"][0]["url"].rstrip("/")
    line = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(schemathesis_config()),
            "run", str(spec), "--url", url + base, "--no-color"]
    if max_examples:
        line += ["--max-examples", str(max_examples)]
    if seed is not None:
        line += ["--seed", str(seed)]
    if family == "vault":
        session = vault_session(url, *vault_user)
        if session:
            line += ["--header", f"Authorization: {session}"]
    return line


def run_checks(url: str, families: list[str], max_examples: int | None,
               vault_user: tuple[str, str] = FIXTURE_VAULT_USER) -> int:
    """Run schemathesis over each family's spec against `url`; 0 only if every run passed."""
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        print("cancelgate check needs schemathesis: pip install 'cancelgate[check]'", file=sys.stderr)
        return 2
    failed = []
    for family in families:
        run = subprocess.run(command(url, family, max_examples=max_examples, vault_user=vault_user),
                             capture_output=True, text=True)
        cases = re.search(r"(\d+) generated.*", run.stdout)
        verdict = "ok" if run.returncode == 0 else "FAILED"
        print(f"{family}: {verdict} ({cases.group(0) if cases else 'no cases'})")
        if run.returncode != 0:
            failed.append(family)
            print(run.stdout[run.stdout.find("FAILURES"):] if "FAILURES" in run.stdout else run.stdout[-4000:])
    return 1 if failed else 0
