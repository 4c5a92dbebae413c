"""The README's walkthrough, run as written: every ```sh and ```python block, in order, in one
shell, against the server its first block starts. ```shell blocks (the set-up commands, which CI
runs itself, and the Redis scale-out) are not run here.

Two things are changed on the way, and only these: the port (4566 becomes a free one, so the
test cannot collide with anything listening there) and `pip install` lines are left out (the test
extra has installed what they name). A line `# => TEXT` after a command means that command's
output contains TEXT.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, free_port

FENCE = re.compile(r"^ *```(\w+)\n(.*?)^ *```", re.M | re.S)


def walkthrough() -> list[tuple[str, str]]:
    return [(kind, body) for kind, body in FENCE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
            if kind in ("sh", "python")]


def steps(kind: str, body: str) -> list[tuple[str, list[str]]]:
    """(command, expected outputs): a python block is one command; in a sh block a command runs
    to the end of its line, or further while lines end in a backslash or a quote stays open."""
    if kind == "python":
        code = "\n".join(line for line in body.splitlines() if not line.startswith("# =>"))
        expected = [line[5:] for line in body.splitlines() if line.startswith("# =>")]
        return [(f"python - <<'PYTHON'\n{code}\nPYTHON", expected)]
    found: list[tuple[str, list[str]]] = []
    pending = ""
    for line in body.splitlines():
        if line.startswith("# =>") and not pending:
            found[-1][1].append(line[5:])
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\") or not _complete(pending):
            continue
        found.append((pending, []))
        pending = ""
    assert not pending, f"unfinished command in the README: {pending}"
    return found


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
        return True
    except ValueError:   # an open quote: the command goes on on the next line
        return False


def script(port: int) -> tuple[str, list[tuple[str, list[str]]]]:
    everything = [step for kind, body in walkthrough() for step in steps(kind, body)]
    lines = ["set -eo pipefail", "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    kept = []
    for command, expected in everything:
        if command.startswith("pip install"):
            continue
        command = command.replace("4566", str(port)).replace("cancelgate serve", f"cancelgate serve --port {port}")
        lines += [f"printf '\\n@@step {len(kept)}\\n'", command]
        kept.append((command, expected))
    return "\n".join(lines) + "\n", kept


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    blocks = walkthrough()
    assert any("cancelgate serve" in body for _, body in blocks), "the walkthrough starts no server"
    port = free_port()
    text, kept = script(port)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    env.pop("AWS_PROFILE", None)
    run = subprocess.Popen(["bash", "-c", text], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = run.communicate(timeout=240)
    finally:
        try:
            os.killpg(run.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pieces = re.split(r"^@@step (\d+)\n", output, flags=re.M)
    printed = {int(pieces[i]): pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}
    reached = max(printed, default=-1)
    assert run.returncode == 0, (f"README step {reached} failed:\n{kept[reached][0] if reached >= 0 else ''}\n"
                                 f"---\n{output[-3000:]}")
    assert reached == len(kept) - 1
    checked = 0
    for number, (command, expected) in enumerate(kept):
        for text in expected:
            assert text in printed[number], (f"README step {number}:\n{command}\n"
                                             f"printed:\n{printed[number]}\nnot {text!r}")
            checked += 1
    assert checked >= 8  # the walkthrough shows its outputs; a README that drops them fails here
