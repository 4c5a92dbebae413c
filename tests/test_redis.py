"""The Redis store: serial transactions across processes, many workers, crashes and restarts."""
from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time
import uuid

import httpx
import pytest

from cancelgate.store.redis_store import RedisStore
from tests.conftest import aws_client, start_redis, start_server


def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_conflicting_transactions_rerun_and_lose_no_update(redis_url):
    """Two stores (as two workers would) increment one counter 200 times each, interleaved."""
    name = prefix()
    stores = [RedisStore(redis_url, {"t": {"n": {"v": 0}}}, name) for _ in range(2)]

    def bump(tx):
        table = tx.table("t")
        table["n"] = {"v": table.get("n")["v"] + 1}

    def worker(store):
        for _ in range(200):
            store.transact(bump)
    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert stores[0].transact(lambda tx: tx.table("t").get("n")) == {"v": 400}


def test_scans_conflict_with_writes_to_the_table(redis_url):
    name = prefix()
    first, second = RedisStore(redis_url, {"t": {"a": {"v": 1}}}, name), RedisStore(redis_url, None, name)
    runs = []

    def count_then_write(tx):
        runs.append(1)
        total = sum(doc["v"] for doc in tx.table("t").values())
        if len(runs) == 1:   # another worker writes to the table between our scan and our commit
            second.transact(lambda other: other.table("t").__setitem__("b", {"v": 10}))
        tx.table("t")["sum"] = {"v": total}
    first.transact(count_then_write)
    assert len(runs) == 2    # the first attempt conflicted and ran again on fresh data
    assert first.transact(lambda tx: tx.table("t").get("sum")) == {"v": 11}


def test_restart_keeps_state_and_fixtures_load_once(redis_url):
    name = prefix()
    store = RedisStore(redis_url, {"t": {"a": {"v": 1}}}, name)
    store.transact(lambda tx: tx.table("t").__setitem__("a", {"v": 2}))
    again = RedisStore(redis_url, {"t": {"a": {"v": 1}}}, name)   # a worker restarting
    assert again.transact(lambda tx: tx.table("t").get("a")) == {"v": 2}


def test_durability_warning(tmp_path):
    url, process = start_redis(tmp_path)
    try:
        store = RedisStore(url, None, prefix())
        assert store.durability_warning() is None
        store.client.config_set("appendfsync", "everysec")
        assert "everysec" in store.durability_warning()
        server = start_server(tmp_path, "--store", url, "--store-prefix", prefix())
        server.stop()
        assert "appendfsync is everysec" in server.output()
    finally:
        process.terminate()
        process.wait(timeout=20)


def worker_pids(parent: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(entry))
    return children


@pytest.fixture
def two_workers(tmp_path, redis_url):
    server = start_server(tmp_path, "--store", redis_url, "--store-prefix", prefix(), "--workers", "2")
    deadline = time.monotonic() + 30
    while len(worker_pids(server.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield server
    server.stop()


def test_two_workers_start_from_the_fixtures(two_workers):
    """The parent's reachability check once claimed the empty namespace: workers started empty."""
    counts = httpx.get(f"{two_workers.url}/_cancelgate/health").json()["counts"]
    assert counts["batch_jobs"] == 15 and counts["vault_jobs"] > 0


def test_two_workers_race_fifty_clients_one_winner_per_transition(two_workers):
    url = two_workers.url
    things = [f"race-{n}" for n in range(5)]
    for thing in things:
        httpx.put(f"{url}/_cancelgate/iot/things/{thing}/jobs/race", json={"status": "QUEUED", "versionNumber": 1})
    batch_jobs = [str(uuid.uuid4()) for _ in range(5)]
    for job_id in batch_jobs:
        httpx.put(f"{url}/_cancelgate/batch/jobs/{job_id}", json={
            "jobName": "race", "jobQueue": "race", "jobDefinition": "d", "status": "SUBMITTED"})

    def client(n: int) -> tuple[str, int]:
        with httpx.Client(base_url=url, timeout=30) as http:
            if n % 2:
                answer = http.put(f"/things/{things[n % 5]}/jobs/race/cancel", json={"expectedVersion": 1})
                return "iot", answer.status_code
            answer = http.post("/v1/canceljob", json={"jobId": batch_jobs[n % 5], "reason": f"client {n}"})
            return "batch", answer.status_code
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(client, range(100)))
    iot_codes = [code for family, code in results if family == "iot"]
    assert all(code < 500 for _, code in results)
    assert iot_codes.count(200) == 5 and iot_codes.count(409) == 45     # one winner per execution
    iot = aws_client("iot", url)
    for thing in things:
        execution = iot.describe_job_execution(thingName=thing, jobId="race")["execution"]
        assert (execution["status"], execution["versionNumber"]) == ("CANCELED", 2)
    jobs = httpx.post(f"{url}/v1/describejobs", json={"jobs": batch_jobs}).json()["jobs"]
    assert all(job["status"] == "FAILED" and job["statusReason"].startswith("client ") for job in jobs)
    served_by = {entry["time"] for entry in httpx.get(f"{url}/_cancelgate/requests").json()["requests"]}
    assert served_by   # the journal is shared by both workers


@pytest.mark.slow
def test_a_worker_killed_mid_load_leaves_the_other_serving(two_workers):
    url = two_workers.url
    # SubmitJob needs its queue and definition to exist, as in AWS
    httpx.post(f"{url}/v1/createjobqueue", json={"jobQueueName": "q", "priority": 1}).raise_for_status()
    httpx.post(f"{url}/v1/registerjobdefinition", json={
        "jobDefinitionName": "d", "type": "container", "containerProperties": {"image": "busybox"}}).raise_for_status()
    victim = worker_pids(two_workers.process.pid)[0]
    acknowledged, failures = [], []
    stop = threading.Event()

    def load():
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set() and len(acknowledged) < 2000:
                try:
                    answer = http.post("/v1/submitjob", json={"jobName": "k", "jobQueue": "q", "jobDefinition": "d"})
                except httpx.TransportError:
                    failures.append("transport")   # the killed worker's connection
                    continue
                if answer.status_code == 200:
                    acknowledged.append(answer.json()["jobId"])
                else:
                    failures.append(answer.status_code)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    os.kill(victim, signal.SIGKILL)
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert all(f == "transport" for f in failures), failures       # never a 5xx
    found = []
    for start in range(0, len(acknowledged), 100):
        found += httpx.post(f"{url}/v1/describejobs", json={"jobs": acknowledged[start:start + 100]}).json()["jobs"]
    assert len(found) == len(acknowledged) > 50


@pytest.mark.slow
def test_redis_restart_loses_no_acknowledged_change(tmp_path):
    url, process = start_redis(tmp_path)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    name = prefix()
    server = start_server(tmp_path, "--store", url, "--store-prefix", name)
    try:
        batch = aws_client("batch", server.url)
        ids = [batch.submit_job(jobName="r", jobQueue="default", jobDefinition="report")["jobId"] for _ in range(50)]
        for job_id in ids[:25]:
            batch.cancel_job(jobId=job_id, reason="before the restart")
        process.send_signal(signal.SIGKILL)   # no clean shutdown: only the append-only file remains
        process.wait(timeout=20)
        url, process = start_redis(tmp_path, port)
        deadline = time.monotonic() + 30
        while True:
            try:
                jobs = {j["jobId"]: j for start in (0, 50) for j in
                        batch.describe_jobs(jobs=ids[start:start + 50])["jobs"]}
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert set(jobs) == set(ids)
        assert all(jobs[j]["statusReason"] == "before the restart" for j in ids[:25])
        assert all(jobs[j]["status"] == "SUBMITTED" for j in ids[25:])
    finally:
        server.stop()
        process.terminate()
        process.wait(timeout=20)


def test_indexes_are_built_for_state_an_older_server_kept(redis_url):
    """State written without indexes (a server before them) gets them on the next start, once,
    while its documents stay as they are; two workers starting at once build them once."""
    from cancelgate.families import indexes as family_indexes
    from cancelgate.families.batch import JOBS
    from cancelgate.families.batch.indexes import QUEUE
    name = prefix()
    jobs = {f"00000000-0000-4000-8000-00000000000{n}": {
        "jobId": f"00000000-0000-4000-8000-00000000000{n}", "status": "RUNNABLE", "jobQueue": "q",
        "createdAt": 10 - n, "_since": 0} for n in range(3)}
    RedisStore(redis_url, {JOBS: jobs}, name).close()       # no indexes, as an older server kept it
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        workers = list(pool.map(lambda _: RedisStore(redis_url, None, name, indexes=family_indexes()), range(2)))
    head_first = workers[0].transact(lambda tx: tx.table(JOBS).ordered(QUEUE, "us-east-1/q"))
    assert head_first == sorted(jobs, key=lambda j: jobs[j]["createdAt"])
    assert workers[1].transact(lambda tx: dict(tx.table(JOBS).items())) == jobs
    for worker in workers:
        worker.close()


def test_an_idle_scheduler_sees_what_another_worker_writes(redis_url):
    # `version` is what tells an idle scheduler that someone wrote (a property that once came
    # out a bound method, so an idle worker never looked again)
    from pathlib import Path

    from cancelgate import lifecycle_config
    from cancelgate.clock import ManualClock
    from cancelgate.families import indexes as family_indexes
    from cancelgate.scheduler import Scheduler
    from cancelgate.resources import data_dir

    name = prefix()
    mine, other = (RedisStore(redis_url, {}, name, indexes=family_indexes()) for _ in range(2))
    config = lifecycle_config.load(None, Path(data_dir()) / "lifecycle.yaml")
    clock = ManualClock(start_ms=1_000_000, shared=mine)
    scheduler = Scheduler(mine, clock, config, threaded=True)
    assert isinstance(mine.version, int)
    assert scheduler.run_due() == [] and scheduler.idle()
    job = {"jobId": "00000000-0000-4000-8000-000000000001", "jobName": "j", "jobQueue": "q",
           "jobDefinition": "d:1", "status": "SUBMITTED", "createdAt": 1_000_000, "dependsOn": []}
    other.transact(lambda tx: tx.table("batch_jobs").__setitem__(job["jobId"], job))
    assert not scheduler.idle()
    assert scheduler.run_due() == []   # seen now: its SUBMITTED second starts
    clock.set_ms(1_001_000)
    assert [c["to"] for c in scheduler.run_due()] == ["PENDING"]


def test_the_worker_loading_the_fixtures_starts_the_shared_manual_clock_at_their_stamp(tmp_path, redis_url):
    """Workers sharing a manual clock: whichever worker set the clock first, the fixtures'
    clocks and the shared clock start at the same time (here another worker's clock, an hour
    earlier, is there before the fixtures are loaded)."""
    import redis

    name = prefix()
    redis.Redis.from_url(redis_url).set(f"{name}:clock", 1_764_000_000_000)
    server = start_server(tmp_path, "--store", redis_url, "--store-prefix", name)
    try:
        now = httpx.get(f"{server.url}/_cancelgate/clock").json()["now"]
        stored = httpx.get(f"{server.url}/_cancelgate/state/batch_jobs/00000000-0000-4000-8000-000000000001").json()
        assert stored["_since"] == now and now > 1_764_000_000_000
        advance = httpx.post(f"{server.url}/_cancelgate/clock/advance", json={"seconds": 1}).json()["transitions"]
        assert ("00000000-0000-4000-8000-000000000001", "PENDING", now + 1000) in {
            (t["id"], t["to"], t["at"]) for t in advance}
    finally:
        server.stop()


def test_the_journal_is_read_whole_right_after_appends_in_order_and_bounded(redis_url):
    """Entries are written in batches by a thread of each worker: a reader in the same worker
    waits for them, another worker sees them once written, the size bound holds, and a clear
    drops what was still queued."""
    name = prefix()
    store, other = RedisStore(redis_url, {}, name), RedisStore(redis_url, None, name)
    try:
        for n in range(120):
            store.journal_append({"n": n}, 100)
        assert [entry["n"] for entry in store.journal_entries()] == list(range(20, 120))
        assert [entry["n"] for entry in other.journal_entries()] == list(range(20, 120))
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: store.journal_append({"n": 1000 + n}, 100), range(300)))
        kept = [entry["n"] for entry in store.journal_entries()]   # the last 100 to arrive, in any order
        assert len(kept) == len(set(kept)) == 100 and set(kept) <= set(range(1000, 1300))
        store.journal_append({"n": -1}, 100)
        store.journal_clear()
        assert store.journal_entries() == [] and other.journal_entries() == []
    finally:
        store.close()
        other.close()


def test_journal_entries_queued_while_redis_is_away_are_bounded_and_never_raise(tmp_path):
    url, redis = start_redis(tmp_path)
    store = RedisStore(url, {}, prefix())
    try:
        redis.kill()
        redis.wait()
        for n in range(5000):
            store.journal_append({"n": n}, 10)        # the answers have gone: never an error
        assert store._journal.queued() <= 10          # what could not be written is not hoarded
    finally:
        store._journal.close()


def test_a_connection_lost_between_reads_is_replaced_and_the_reads_go_on(redis_url):
    """Redis closes the connection between two reads (a restart, CLIENT KILL): the next read
    goes out on a new one, as redis-py's pool would hand out; no outage, no wrong answer."""
    import redis as redis_py
    store = RedisStore(redis_url, {"t": {"a": {"v": 1}, "b": {"v": 2}}}, prefix())
    killer = redis_py.Redis.from_url(redis_url)
    runs = []

    def read_both(tx):
        runs.append(1)
        first = tx.table("t").get("a")
        if len(runs) == 1:
            killer.client_kill_filter(_id=tx.link.call("CLIENT", "ID"))
        return first["v"], tx.table("t").get("b")["v"]
    try:
        assert store.transact(read_both) == (1, 2)
        assert len(runs) == 1      # documents read are checked at commit: no WATCH was lost
        assert store.transact(lambda tx: tx.table("t").get("b")) == {"v": 2}
    finally:
        store.close()
        killer.close()


def test_a_connection_lost_during_a_read_runs_the_transaction_again(redis_url):
    """The connection dies with a command's reply unread: that is a conflict like any other,
    the function runs again on a new connection, not an outage."""
    import redis as redis_py
    store = RedisStore(redis_url, {"t": {"a": {"v": 1}}}, prefix())
    killer = redis_py.Redis.from_url(redis_url)
    runs = []

    def read_slowly(tx):
        runs.append(1)
        if len(runs) == 1:
            own = tx.link.call("CLIENT", "ID")
            threading.Timer(0.2, killer.client_kill_filter, kwargs={"_id": own}).start()
            tx.link.call("BLPOP", f"{store.prefix}:never", 3)    # killed while waiting for it
        return tx.table("t").get("a")
    try:
        assert store.transact(read_slowly) == {"v": 1}
        assert len(runs) == 2
    finally:
        store.close()
        killer.close()


def test_watches_lost_with_their_connection_never_guard_a_commit(redis_url):
    """A scan WATCHes the table's generation; its connection is then lost, and another worker
    adds to the table. Committing on a new connection would write a sum that misses the new
    row: the transaction runs again instead and counts it."""
    import redis as redis_py
    name = prefix()
    store, other = RedisStore(redis_url, {"t": {"a": {"v": 1}}}, name), RedisStore(redis_url, None, name)
    killer = redis_py.Redis.from_url(redis_url)
    runs = []

    def sum_then_write(tx):
        runs.append(1)
        total = sum(doc["v"] for key, doc in tx.table("t").items() if key != "sum")
        if len(runs) == 1:
            killer.client_kill_filter(_id=tx.link.call("CLIENT", "ID"))
            other.transact(lambda theirs: theirs.table("t").__setitem__("b", {"v": 10}))
        tx.table("t")["sum"] = {"v": total}
    try:
        store.transact(sum_then_write)
        assert len(runs) == 2
        assert store.transact(lambda tx: tx.table("t").get("sum")) == {"v": 11}
    finally:
        store.close()
        other.close()
        killer.close()
