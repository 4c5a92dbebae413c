"""Cost of one Batch cancel in the store as the number of jobs grows (issue: flat, not O(n)).

    python bench/store_cost.py            # 1k, 10k, 100k jobs; memory and --db modes
    python bench/store_cost.py --redis redis://127.0.0.1:6379/0    # and the Redis store
    python bench/store_cost.py --smoke    # tiny, for CI: proves the script runs

Each cancel is the real path below the HTTP layer: one `Store.transact` running the CancelJob
rule on a SUBMITTED job (a state change, journalled and fsynced in --db mode).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cancelgate.families.batch import rules  # noqa: E402
from cancelgate.store import open_store  # noqa: E402


def jobs(count: int) -> dict:
    table = {}
    for n in range(count):
        job_id = f"00000000-0000-4000-8000-{n:012d}"
        table[job_id] = {"jobId": job_id, "jobName": "bench", "jobQueue": "q", "jobDefinition": "d",
                         "status": "SUBMITTED", "createdAt": n, "dependsOn": []}
    return {"batch_jobs": table}


def measure(count: int, cancels: int, db: Path | None, redis_url: str | None = None) -> list[float]:
    store = open_store(db, jobs(count), redis_url, f"bench-{time.monotonic_ns()}")
    cancels = min(cancels, count)
    step = count // cancels
    timings = []
    for n in range(0, step * cancels, step):
        job_id = f"00000000-0000-4000-8000-{n:012d}"
        start = time.perf_counter()
        store.transact(lambda tx, job_id=job_id: rules.stop_job(tx.table("batch_jobs"), job_id, "bench", 1,
                                                              terminate=False))
        timings.append(time.perf_counter() - start)
    store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--redis", metavar="URL", help="also measure the Redis store at this URL")
    args = parser.parse_args()
    sizes, cancels = ([100, 1000], 50) if args.smoke else ([1_000, 10_000, 100_000], 2000)
    print("| jobs | mode | cancels | median µs | p99 µs |")
    print("|---:|---|---:|---:|---:|")
    for mode in ("memory", "db") + (("redis",) if args.redis else ()):
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp) / "bench.json" if mode == "db" else None
                timings = sorted(measure(size, cancels, db, args.redis if mode == "redis" else None))
            median = statistics.median(timings) * 1e6
            p99 = timings[int(len(timings) * 0.99) - 1] * 1e6
            print(f"| {size} | {mode} | {len(timings)} | {median:.0f} | {p99:.0f} |", flush=True)


if __name__ == "__main__":
    main()
