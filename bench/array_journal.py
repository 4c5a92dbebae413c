"""Bytes SubmitJob of an array job adds to the journal of a `--db` server (issue 13: children
stored compactly, O(1) bytes each whatever the parent's parameters).

    python bench/array_journal.py                      # 10,000 children, 29 KiB of parameters
    python bench/array_journal.py --size 10000 --parameter-bytes 100000   # refused: over 30 KiB

A real `cancelgate serve --db` on loopback and boto3; it reports the growth of PATH.journal (and
of PATH, which a fold may rewrite meanwhile) for the one SubmitJob. `--parameter-bytes` above the
SubmitJob payload limit (30 KiB) is refused with ClientException;
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cancelgate.pytest_plugin import aws_client, start_server  # noqa: E402


def parameters_of(total: int) -> dict:
    """About `total` bytes of parameters, in values of at most 1,000 characters."""
    return {f"p{n}": "v" * min(1000, total - n * 1000) for n in range(max(1, -(-total // 1000)))}


def files(db: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in db.parent.iterdir() if p.name.startswith(db.name)
            and not p.name.endswith(".lock")}


def measure(size: int, parameter_bytes: int, folder: Path) -> dict:
    db = folder / "state.json"
    server = start_server(folder, "--db", str(db), cwd=ROOT)
    try:
        batch = aws_client("batch", server.url)
        before = files(db)
        started = time.monotonic()
        try:
            answer = batch.submit_job(jobName="wide", jobQueue="default", jobDefinition="report:1",
                                      arrayProperties={"size": size}, parameters=parameters_of(parameter_bytes))
        except batch.exceptions.ClientException as error:
            return {"refused": str(error)}
        seconds = time.monotonic() - started
        after = files(db)
        child = batch.describe_jobs(jobs=[f"{answer['jobId']}:{size - 1}"])["jobs"][0]
        assert len(child["parameters"]) == len(parameters_of(parameter_bytes)) + 1   # and the definition's
        journal = after.get("state.json.journal", 0) - before.get("state.json.journal", 0)
        grown = sum(after.values()) - sum(before.values())
        return {"journal_bytes": journal, "all_files_bytes": grown, "seconds": round(seconds, 2),
                "bytes_per_child": round(journal / size, 1)}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--parameter-bytes", type=int, default=29 * 1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print({"size": args.size, "parameter_bytes": args.parameter_bytes,
               **measure(args.size, args.parameter_bytes, Path(folder))})


if __name__ == "__main__":
    main()
