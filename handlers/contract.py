"""`cancelgate check`: schemathesis, with our configuration and checks, against a deployment."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
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


def reachable(url: str) -> str | None:
    """None if anything answers HTTP at `url` (any status), else why not, in a few words."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(f"{url}/_cancelgate/health", timeout=10).close()
    except urllib.error.HTTPError:
        return None  # an answer, even a 401 from a guarded control plane
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))
    return None


PHASES = ("Examples", "Coverage", "Fuzzing", "Stateful")
_PHASE_DONE = re.compile(r"^\s*\S*\s*(Examples|Coverage|Fuzzing|Stateful) \(in [0-9.]+m?s\)")
_OUTCOMES = re.compile(r"(\d+) (passed|failed|skipped|errored)")
_OPERATIONS = re.compile(r"Operations:\s+(\d+) selected")


class Progress:
    """Per family: the phases schemathesis finished and how many operations each covered; a bar
    redrawn in place on a terminal, one line per phase otherwise."""

    def __init__(self, family: str, out=sys.stdout):
        self.family = family
        self.out = out
        self.tty = out.isatty()
        self.operations = 0
        self.done = 0
        self.phase: str | None = None
        self.failed = 0

    def feed(self, line: str) -> None:
        if match := _OPERATIONS.search(line):
            self.operations = int(match.group(1))
            self._show("loaded")
        elif match := _PHASE_DONE.match(line):
            self.phase = match.group(1)
        elif self.phase and (outcomes := _OUTCOMES.findall(line)):
            counted = {kind: int(n) for n, kind in outcomes}
            self.failed += counted.get("failed", 0) + counted.get("errored", 0)
            self.done += 1
            tested = sum(counted.values()) if self.phase != "Stateful" else self.operations
            detail = ", ".join(f"{n} {kind}" for kind, n in counted.items())
            self._show(f"{self.phase.lower()} {min(tested, self.operations)}/{self.operations} operations ({detail})")
            self.phase = None

    def _show(self, what: str) -> None:
        if self.tty:
            width = 20
            filled = width * self.done // len(PHASES)
            bar = "#" * filled + "." * (width - filled)
            self.out.write(f"\r\033[K{self.family:<6} [{bar}] {self.done}/{len(PHASES)} phases  {what}")
        else:
            self.out.write(f"{self.family}: {what}\n")
        self.out.flush()

    def end(self) -> None:
        if self.tty:
            self.out.write("\n")


def run_checks(url: str, families: list[str], max_examples: int | None,
               vault_user: tuple[str, str] = FIXTURE_VAULT_USER) -> int:
    """Run schemathesis over each family's spec against `url`; 0 only if every run passed,
    2 if nothing answers at `url` or schemathesis is missing."""
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        print("cancelgate check needs schemathesis: pip install 'cancelgate[check]'", file=sys.stderr)
        return 2
    if (why := reachable(url)) is not None:
        print(f"cancelgate check: nothing answers at {url} ({why}); start it with `cancelgate serve` "
              f"or point --url at the deployment", file=sys.stderr)
        return 2
    rows = []
    for family in families:
        started = time.monotonic()
        progress = Progress(family)
        process = subprocess.Popen(command(url, family, max_examples=max_examples, vault_user=vault_user),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   encoding="utf-8", errors="replace")
        output = []
        for line in process.stdout:
            output.append(line)
            progress.feed(line)
        process.wait()
        progress.end()
        text = "".join(output)
        cases = re.search(r"(\d+) generated(.*)", text)
        ok = process.returncode == 0
        rows.append((family, "ok" if ok else "FAILED", progress.operations,
                     cases.group(1) if cases else "0", cases.group(0).strip() if cases else "no cases",
                     time.monotonic() - started))
        print(f"{family}: {'ok' if ok else 'FAILED'} ({rows[-1][4]})", flush=True)
        if not ok:
            print(text[text.find("FAILURES"):] if "FAILURES" in text else text[-4000:], flush=True)
    print()
    header = ("family", "result", "operations", "cases", "time")
    table = [header] + [(f, r, str(o), c, f"{t:.1f}s") for f, r, o, c, _, t in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0 if all(row[1] == "ok" for row in rows) else 1
