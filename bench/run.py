"""The side-by-side benchmark: cancelgate, a bare Starlette endpoint (bare), Connexion routing and
validating the same CancelJob operation around a minimal app (floor, bench/floor.py) and
moto_server (the peer), loaded one after another by wrk on loopback, in one run. Every
cancelgate row shows its ratio to all three.

    python bench/run.py              # full run: 10 s per case, stores of 1k, 10k and 100k jobs
    python bench/run.py --smoke      # 1 s per case, a tiny store: proves the bench works
    python bench/run.py --cancel-only --sizes 1000 --seconds 5   # the CancelJob rows only

The job engine's scenarios (bench/engine.py: the lifecycle on, under load) run last and add
their own section to the same RESULTS.md; `--no-engine` leaves them out.

Writes bench/RESULTS.md (and bench/results.json, bench/results.png) unless --out says otherwise;
a --smoke run writes under bench/.smoke/ instead.
wrk comes from Debian's packages (installed if missing and we are root); moto_server and
matplotlib go into a private virtualenv under bench/.peers, never into the test environment.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket

import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / ".peers"
CONNECTIONS = 16


@dataclass
class Case:
    server: str        # cancelgate-memory | -db | -lifecycle | -redis-Nw | bare | floor | moto
    scenario: str
    jobs: int
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    errors: int        # socket errors, plus non-2xx answers where 2xx was expected


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        log(f"load generator: {found} (found)")
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is not installed; install Debian's wrk package (apt-get install wrk)")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
    log("load generator: wrk (installed from Debian's packages)")
    return shutil.which("wrk")


def ensure_peers() -> Path | None:
    """A private virtualenv with moto[server] and matplotlib; None if it cannot be had."""
    python = PEERS / "bin" / "python"
    if not (PEERS / "bin" / "moto_server").exists():
        log("installing moto[server] and matplotlib into bench/.peers ...")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "moto[server]", "matplotlib"],
                           check=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as error:
            log(f"peers unavailable ({error}); moto and the chart are left out")
            return None
    return PEERS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, log_file: Path, env: dict | None = None) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, stdout=log_file.open("wb"), stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log_file.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of the server: the process, plus its workers when it has any."""
    total = 0.0
    for process in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def load(wrk: str, url: str, scenario: str, ids: Path, seconds: float, env: dict | None = None) -> dict:
    run = subprocess.run(
        [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
         "-s", str(BENCH / "load.lua"), url],
        env={**os.environ, "BENCH_SCENARIO": scenario, "BENCH_IDS": str(ids), **(env or {})},
        capture_output=True, text=True, timeout=seconds + 120, check=True)
    line = next(text for text in run.stdout.splitlines() if text.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def measure(wrk, server, scenario, jobs, url, ids, seconds, process, expect_ok=True, env=None) -> Case:
    result = load(wrk, url, scenario, ids, seconds, env)
    errors = result["socket_errors"] + (result["status_errors"] if expect_ok else 0)
    case = Case(server, scenario, jobs, result["requests"] / (result["duration_us"] / 1e6),
                result["p50_us"] / 1000, result["p99_us"] / 1000, peak_rss_mb(process.pid), errors)
    log(f"  {server:18} {scenario:12} {jobs:>7} jobs  {case.rps:8.0f} req/s  p50 {case.p50_ms:6.2f} ms"
        f"  p99 {case.p99_ms:6.2f} ms  rss {case.rss_mb:5.0f} MB  errors {case.errors}")
    return case


def write_fixtures(count: int, folder: Path) -> dict[str, Path]:
    """`count` SUBMITTED Batch jobs, QUEUED IoT executions and QUEUED Vault jobs, and id files."""
    jobs, things, executions, vault_jobs = {}, {}, {}, {}
    for n in range(count):
        job_id = str(uuid.UUID(int=n + 1, version=4))
        jobs[job_id] = {"jobId": job_id, "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job_id}",
                        "jobName": "bench", "jobQueue": "bench", "jobDefinition": "bench:1",
                        "status": "SUBMITTED", "createdAt": 1764000000000 + n, "dependsOn": []}
        thing = f"bench-{n}"
        things[thing] = {"thingName": thing, "thingArn": f"arn:aws:iot:us-east-1:123456789012:thing/{thing}",
                         "thingId": job_id, "_config": {}, "_jobs": ["bench-job"]}
        executions[f"{thing}/bench-job"] = {
            "thingName": thing, "jobId": "bench-job", "thingArn": things[thing]["thingArn"], "status": "QUEUED",
            "queuedAt": 1764000000000, "lastUpdatedAt": 1764000000000, "executionNumber": 1,
            "versionNumber": 1, "statusDetails": {}}
        vault_jobs[str(10_000_000 + n)] = {"id": 10_000_000 + n, "status": "QUEUED", "method": "POST",
                                           "created_by": 12021, "created_date": 1764000000000, "vault_id": 1776}
    (folder / "batch.json").write_text(json.dumps({"batch_jobs": jobs}))
    (folder / "iot.json").write_text(json.dumps({
        "iot_things": things, "iot_executions": executions,
        "iot_jobs": {"bench-job": {"jobId": "bench-job", "jobArn": "arn:aws:iot:us-east-1:123456789012:job/bench-job",
                                   "targets": [], "targetSelection": "SNAPSHOT", "createdAt": 1764000000000,
                                   "lastUpdatedAt": 1764000000000}}}))
    vault = json.loads((ROOT / "data" / "vault.json").read_text())
    vault["vault_jobs"] = vault_jobs
    (folder / "vault.json").write_text(json.dumps(vault))
    files = {"batch": folder / "batch.ids", "iot": folder / "iot.ids", "vault": folder / "vault.ids"}
    files["batch"].write_text("\n".join(jobs) + "\n")
    files["iot"].write_text("\n".join(executions) + "\n")
    files["vault"].write_text("\n".join(vault_jobs) + "\n")
    return files


def vault_session(url: str) -> str:
    form = urllib.parse.urlencode({"username": "alice@promomats.example.com", "password": "cancelgate"}).encode()
    with urllib.request.urlopen(f"{url}/api/v26.2/auth", data=form, timeout=30) as answer:
        return json.load(answer)["sessionId"]


def run_cancelgate(wrk, jobs, seconds, tmp: Path, lifecycle: bool = False, cancel_only: bool = False) -> list[Case]:
    """The memory and --db rows at `jobs`; with `lifecycle`, also CancelJob with the real clock's
    lifecycle on (the scheduler ticking beside the requests)."""
    folder = tmp / f"fixtures-{jobs}"
    folder.mkdir()
    ids = write_fixtures(jobs, folder)
    cases = []
    for mode in ("memory", "db", *(("lifecycle",) if lifecycle else ())):
        port = free_port()
        command = [sys.executable, "-m", "cancelgate.cli", "serve", "--port", str(port), "--fixtures",
                   str(folder), "--log-level", "warning", "--no-response-validation"]
        if mode != "lifecycle":
            command += ["--no-lifecycle"]
        if mode == "db":
            command += ["--db", str(tmp / f"bench-{jobs}.json")]
        process = start(command, port, tmp / f"cancelgate-{mode}-{jobs}.log")
        url = f"http://127.0.0.1:{port}"
        try:
            # (scenario, ids, only 2xx expected): an IoT execution cancels once, then answers
            # 409 InvalidStateTransition, which is the work of a full request all the same.
            scenarios = [("cancel", ids["batch"], True), ("describe", ids["batch"], True),
                         ("invalid", ids["batch"], False), ("iot_cancel", ids["iot"], False),
                         ("vault_cancel", ids["vault"], True)]
            if mode != "memory" or cancel_only:
                scenarios = scenarios[:1]
            for scenario, id_file, expect_ok in scenarios:
                env = {"BENCH_AUTH": vault_session(url)} if scenario == "vault_cancel" else None
                cases.append(measure(wrk, f"cancelgate-{mode}", scenario, jobs, url, id_file, seconds,
                                     process, expect_ok=expect_ok, env=env))
        finally:
            stop(process)
    return cases


def run_redis(wrk, jobs: int, seconds: float, tmp: Path) -> list[Case]:
    """CancelJob on the Redis store (appendfsync always, as --db fsyncs) with 1, 2 and 4 workers."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        log("redis-server not found: the Redis rows are left out")
        return []
    folder = tmp / "fixtures-redis"
    folder.mkdir()
    ids = write_fixtures(jobs, folder)
    redis_port = free_port()
    redis = start([redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(tmp),
                   "--appendonly", "yes", "--appendfsync", "always", "--save", ""], redis_port, tmp / "redis.log")
    cases = []
    try:
        for workers in (1, 2, 4):
            port = free_port()
            process = start([sys.executable, "-m", "cancelgate.cli", "serve", "--port", str(port), "--fixtures",
                             str(folder), "--log-level", "warning", "--no-response-validation", "--no-lifecycle",
                             "--store", f"redis://127.0.0.1:{redis_port}/0", "--store-prefix", f"bench{workers}",
                             "--workers", str(workers)], port, tmp / f"cancelgate-redis-{workers}.log")
            try:
                time.sleep(2 if workers > 1 else 0)  # let every worker come up
                cases.append(measure(wrk, f"cancelgate-redis-{workers}w", "cancel", jobs,
                                     f"http://127.0.0.1:{port}", ids["batch"], seconds, process))
            finally:
                stop(process)
    finally:
        stop(redis)
    return cases


def run_bare(wrk, seconds, tmp: Path, name: str = "bare", module: str = "bench.bare:app") -> Case:
    """A plain uvicorn app under the CancelJob load: the bare Starlette endpoint, or (with
    name="floor", module="bench.floor:app") Connexion routing and validating CancelJob."""
    port = free_port()
    ids = tmp / f"{name}.ids"
    ids.write_text(str(uuid.uuid4()) + "\n")
    process = start([sys.executable, "-m", "uvicorn", module, "--port", str(port),
                     "--log-level", "warning", "--no-access-log"], port, tmp / f"{name}.log")
    try:
        return measure(wrk, name, "cancel", 0, f"http://127.0.0.1:{port}", ids, seconds, process)
    finally:
        stop(process)


def run_moto(wrk, peers: Path, jobs: int, seconds, tmp: Path) -> Case | None:
    port = free_port()
    process = start([str(peers / "bin" / "moto_server"), "-p", str(port)], port, tmp / "moto.log")
    url = f"http://127.0.0.1:{port}"
    try:
        seed = subprocess.run([str(peers / "bin" / "python"), "-c", MOTO_SEED, url, str(jobs)],
                              capture_output=True, text=True, timeout=900, check=True)
        ids = tmp / "moto.ids"
        ids.write_text(seed.stdout)
        return measure(wrk, "moto", "cancel", jobs, url, ids, seconds, process)
    except subprocess.SubprocessError as error:
        log(f"moto could not be seeded: {error}")
        return None
    finally:
        stop(process)


MOTO_SEED = """
import sys, boto3
url, count = sys.argv[1], int(sys.argv[2])
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
batch, iam = boto3.client("batch", **kw), boto3.client("iam", **kw)
role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
ce = batch.create_compute_environment(computeEnvironmentName="bench-ce", type="UNMANAGED", serviceRole=role)
batch.create_job_queue(jobQueueName="bench-q", state="ENABLED", priority=1,
    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])
batch.register_job_definition(jobDefinitionName="bench-d", type="container",
    containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]})
for _ in range(count):
    print(batch.submit_job(jobName="bench-job", jobQueue="bench-q", jobDefinition="bench-d")["jobId"])
"""


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def report(cases: list[Case], seconds: float, out: Path, peers: Path | None,
           engine: list[str] | None = None) -> None:
    def find(server, scenario, jobs=None):
        for case in cases:
            if case.server == server and case.scenario == scenario and (jobs is None or case.jobs == jobs):
                return case
        return None
    sizes = sorted({c.jobs for c in cases if c.server == "cancelgate-memory"})
    bare, floor, moto = find("bare", "cancel"), find("floor", "cancel"), find("moto", "cancel")
    smallest = find("cancelgate-memory", "cancel", sizes[0]) if sizes else None
    largest = find("cancelgate-memory", "cancel", sizes[-1]) if sizes else None
    lines = [
        "# Benchmark results",
        "",
        f"`python bench/run.py{' --smoke' if seconds < 5 else ''}` on {platform.node() or 'this machine'}"
        f" ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"wrk -t1 -c{CONNECTIONS}, {seconds:g} s per case, loopback, one uvicorn worker each (the Redis rows:",
        "N workers); cancelgate with full request validation, the journal and faults on,",
        "`--no-response-validation`, and `--no-lifecycle` except in the lifecycle row. CancelJob ids",
        "taken round-robin from the store (each job changes state the first time it is hit; an IoT",
        "execution answers 409 once canceled, a Vault job FAILURE once CANCELLING). Vault cancels 100",
        "ids per request. `bare`: a Starlette route answering `{}` (bench/bare.py); `floor`: Connexion",
        "routing and validating the same CancelJob operation around a minimal app (bench/floor.py).",
        "Latencies in ms, RSS is the server's peak. The ratios are req/s over the same run's bare,",
        "floor and moto rows.",
        "",
        "| server | scenario | jobs | req/s | p50 | p99 | peak RSS MB | errors | / bare | / floor | / moto |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        lines.append(f"| {c.server} | {c.scenario} | {c.jobs} | {c.rps:.0f} | {c.p50_ms:.2f} | "
                     f"{c.p99_ms:.2f} | {c.rss_mb:.0f} | {c.errors} | "
                     f"{ratio(c.rps, bare and bare.rps)} | {ratio(c.rps, floor and floor.rps)} | "
                     f"{ratio(c.rps, moto and moto.rps)} |")
    lines += ["", "## Targets (same run)", "", "| target | measured | met |", "|---|---|---|"]

    def target(name, value, ok):
        lines.append(f"| {name} | {value} | {'yes' if ok else 'no'} |")
    if smallest and bare:
        target("CancelJob >= 0.30x bare Starlette", ratio(smallest.rps, bare.rps), smallest.rps >= 0.3 * bare.rps)
        target("CancelJob >= 0.5x bare Starlette (stretch)", ratio(smallest.rps, bare.rps),
               smallest.rps >= 0.5 * bare.rps)
    if smallest and floor:
        target("CancelJob >= 0.85x the Connexion floor", ratio(smallest.rps, floor.rps),
               smallest.rps >= 0.85 * floor.rps)
    if smallest:
        target("CancelJob p99 <= 5 ms at 16 connections", f"{smallest.p99_ms:.2f} ms", smallest.p99_ms <= 5)
    if smallest and moto:
        target("CancelJob >= 10x moto_server", ratio(smallest.rps, moto.rps), smallest.rps >= 10 * moto.rps)
    if smallest and largest and largest is not smallest:
        target(f"{largest.jobs} jobs >= 0.9x {smallest.jobs} jobs", ratio(largest.rps, smallest.rps),
               largest.rps >= 0.9 * smallest.rps)
    db = find("cancelgate-db", "cancel", sizes[0]) if sizes else None
    if smallest and db:
        target("--db >= 0.8x memory", ratio(db.rps, smallest.rps), db.rps >= 0.8 * smallest.rps)
    lifecycle = find("cancelgate-lifecycle", "cancel")
    if smallest and lifecycle:
        lines.append(f"| lifecycle on / off (no target) | {ratio(lifecycle.rps, smallest.rps)} | - |")
    one, two, four = (find(f"cancelgate-redis-{n}w", "cancel") for n in (1, 2, 4))
    if smallest and one:
        target("Redis, 1 worker >= 0.5x memory", ratio(one.rps, smallest.rps), one.rps >= 0.5 * smallest.rps)
    if one and two:
        target("Redis, 2 workers >= 1.5x 1 worker", ratio(two.rps, one.rps), two.rps >= 1.5 * one.rps)
    if one and four:
        lines.append(f"| Redis, 4 workers / 1 worker (no target; 2 cores shared with wrk and Redis) | "
                     f"{ratio(four.rps, one.rps)} | - |")
    if engine:
        lines += ["", *engine]
    lines += ["", "Where the time goes, what was cut and what is left: [PROFILE.md](PROFILE.md)."]
    out.write_text("\n".join(lines) + "\n")
    results = out.with_name("results.json")
    results.write_text(json.dumps([asdict(c) for c in cases], indent=1))
    if peers:
        subprocess.run([str(peers / "bin" / "python"), str(BENCH / "chart.py"), str(results),
                        str(out.with_name("results.png"))], check=False, timeout=120)
    log(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 s per case, tiny store")
    parser.add_argument("--seconds", type=float, help="seconds per case (default 10, smoke 1)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="store sizes, comma separated (default 1000,10000,100000)")
    parser.add_argument("--cancel-only", action="store_true",
                        help="only the CancelJob rows (bare, floor, memory, --db, lifecycle, Redis, moto)")
    parser.add_argument("--no-redis", action="store_true", help="leave out the Redis rows")
    parser.add_argument("--no-engine", action="store_true",
                        help="leave out the job engine's scenarios (bench/engine.py: the lifecycle on under load)")
    parser.add_argument("--out", type=Path,
                        help="where the table goes (default bench/RESULTS.md; with --smoke, bench/.smoke/, "
                             "which git ignores: a smoke run never overwrites the committed results)")
    args = parser.parse_args()
    if args.out is None:
        args.out = BENCH / ".smoke" / "RESULTS.md" if args.smoke else BENCH / "RESULTS.md"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seconds = args.seconds or (1 if args.smoke else 10)
    sizes = args.sizes or ([200] if args.smoke else [1_000, 10_000, 100_000])
    wrk = ensure_wrk()
    peers = ensure_peers()
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # the three references and the rows compared with them, back to back
        cases.append(run_bare(wrk, seconds, tmp))
        cases.append(run_bare(wrk, seconds, tmp, name="floor", module="bench.floor:app"))
        for index, jobs in enumerate(sizes):
            cases += run_cancelgate(wrk, jobs, seconds, tmp, lifecycle=index == 0, cancel_only=args.cancel_only)
        if not args.no_redis:
            cases += run_redis(wrk, sizes[0], seconds, tmp)
        if peers:
            moto = run_moto(wrk, peers, min(sizes[0], 1000), seconds, tmp)
            if moto:
                cases.append(moto)
        rows = None
        if not (args.no_engine or args.cancel_only):
            sys.path.insert(0, str(ROOT))   # run as a script, the package's parent is not on the path
            from bench import engine
            rows = engine.run_all(wrk, sizes, seconds, tmp, 500 if args.smoke else engine.PARENT_SIZE)
    report(cases, seconds, args.out, peers, engine.section(rows) if rows else None)
    if any(c.errors for c in cases) or (rows and not all(r.ok for r in rows)):
        sys.exit("some cases had errors; see the table")


if __name__ == "__main__":
    main()
