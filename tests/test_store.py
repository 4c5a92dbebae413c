"""The store: all-or-nothing transactions, and with a file, nothing acknowledged is lost."""
from __future__ import annotations

import json
import uuid
import signal

import httpx
import pytest

from cancelgate.store import StoreLocked
from cancelgate.store.tinydb_store import TinyStore as Store
from tests.conftest import aws_client, start_server

JOB = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(params=["tinydb", "redis"])
def fresh_store(request):
    """A store of each backend holding {"t": {"a": {"v": 1}}}."""
    if request.param == "tinydb":
        return Store(None, {"t": {"a": {"v": 1}}})
    from cancelgate.store.redis_store import RedisStore
    return RedisStore(request.getfixturevalue("redis_url"), {"t": {"a": {"v": 1}}}, f"t-{uuid.uuid4().hex[:8]}")


def test_transaction_that_raises_writes_nothing(fresh_store):
    store = fresh_store

    def half_done(tx):
        tx.table("t")["a"] = {"v": 2}
        tx.table("t")["b"] = {"v": 3}
        raise ValueError("rule said no")
    with pytest.raises(ValueError):
        store.transact(half_done)
    assert store.transact(lambda tx: (tx.table("t").get("a"), tx.table("t").get("b"))) == ({"v": 1}, None)


def test_documents_read_are_copies(fresh_store):
    fresh_store.transact(lambda tx: tx.table("t").get("a").__setitem__("v", [1, 2]))
    assert fresh_store.transact(lambda tx: tx.table("t").get("a")) == {"v": 1}


def test_a_failed_transaction_that_changed_what_it_scanned_leaves_nothing(fresh_store):
    """Documents handed out by a scan are the transaction's own: changing a nested value of one
    and then raising commits nothing, on either backend."""
    fresh_store.transact(lambda tx: tx.table("t").__setitem__("a", {"v": 1, "tags": ["x"]}))

    def mutate_then_fail(tx):
        for doc in tx.table("t").values():
            doc["tags"].append("leaked")
        tx.table("t").get("a")["tags"].append("leaked too")
        raise ValueError("rule said no")
    with pytest.raises(ValueError):
        fresh_store.transact(mutate_then_fail)
    assert fresh_store.transact(lambda tx: tx.table("t").get("a")) == {"v": 1, "tags": ["x"]}
    assert fresh_store.transact(lambda tx: list(tx.table("t").values())) == [{"v": 1, "tags": ["x"]}]


def test_journal_replays_and_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "state.json"
    store = Store(path, {"t": {"a": {"v": 1}}})
    store.transact(lambda tx: tx.table("t").__setitem__("a", {"v": 2}))
    store.transact(lambda tx: tx.table("t").__setitem__("b", {"v": 3}))
    # simulate a crash: no close(), and a half-written transaction at the end of the journal
    with open(str(path) + ".journal", "ab") as log:
        log.write(b'[["t","c",{"v":')
    store._journal._lock_file.close()
    reopened = Store(path, {"t": {}})
    assert reopened.transact(lambda tx: sorted(tx.table("t").values(), key=lambda d: d["v"])) == [
        {"v": 2}, {"v": 3}]
    reopened.close()
    snapshot = json.loads(path.read_text())
    assert snapshot.pop("_wal")["state"]["covers"] >= 0   # the generations this snapshot covers
    assert snapshot == {"t": {"a": {"v": 2}, "b": {"v": 3}}}


def test_second_store_on_same_file_is_refused(tmp_path):
    first = Store(tmp_path / "db.json")
    with pytest.raises(StoreLocked):
        Store(tmp_path / "db.json")
    first.close()
    Store(tmp_path / "db.json").close()


def test_acknowledged_cancel_survives_sigkill(tmp_path):
    db = tmp_path / "db.json"
    server = start_server(tmp_path, "--db", str(db))
    try:
        batch = aws_client("batch", server.url)
        batch.cancel_job(jobId=JOB, reason="before the crash")
        submitted = batch.submit_job(jobName="late", jobQueue="default", jobDefinition="report")["jobId"]
    finally:
        server.stop(signal.SIGKILL)
    restarted = start_server(tmp_path, "--db", str(db))
    try:
        batch = aws_client("batch", restarted.url)
        jobs = {j["jobId"]: j for j in batch.describe_jobs(jobs=[JOB, submitted])["jobs"]}
        assert jobs[JOB]["statusReason"] == "before the crash"
        assert jobs[submitted]["status"] == "SUBMITTED"
    finally:
        restarted.stop()
    saved = json.loads(db.read_text())          # a clean stop folds the journal into the file
    assert saved["batch_jobs"][JOB]["isCancelled"] is True


def test_second_server_on_same_db_refuses_to_start(tmp_path):
    db = tmp_path / "db.json"
    first = start_server(tmp_path, "--db", str(db))
    try:
        second = start_server(tmp_path, "--db", str(db), wait=False)
        assert second.process.wait(timeout=30) == 2
        assert "already served by another cancelgate process" in second.output()
        assert httpx.get(f"{first.url}/_cancelgate/health").status_code == 200
    finally:
        first.stop()


def test_background_compaction_keeps_every_change(tmp_path, monkeypatch):
    """Compaction runs while writes go on; whatever moment a crash picks, the state reloads."""
    import cancelgate.store.tinydb_store as store_module
    monkeypatch.setattr(store_module, "COMPACT_EVERY", 10)
    path = tmp_path / "state.json"
    store = Store(path, {"t": {}})
    for n in range(95):
        store.transact(lambda tx, n=n: tx.table("t").__setitem__(f"k{n}", {"v": n}))
    if store._journal._folding is not None:
        store._journal._folding.join()
    # a crash now: no close(); the next process loads snapshot + unfolded generations + journal
    store._journal._lock_file.close()
    reloaded = Store(path, {"t": {}})
    assert reloaded.transact(lambda tx: sorted(d["v"] for d in tx.table("t").values())) == list(range(95))
    reloaded.close()


def test_crash_between_rotation_and_snapshot_replays_both_journals(tmp_path):
    path = tmp_path / "state.json"
    store = Store(path, {"t": {}})
    store.transact(lambda tx: tx.table("t").__setitem__("a", {"v": 1}))
    store.transact(lambda tx: tx.table("t").__setitem__("b", {"v": 1}))
    # rotated but the snapshot was never written (the thread died with the process)
    store._journal._rotate()
    store.transact(lambda tx: tx.table("t").__setitem__("a", {"v": 2}))
    store._journal._lock_file.close()
    reloaded = Store(path, {"t": {}})
    assert reloaded.transact(lambda tx: (tx.table("t").get("a"), tx.table("t").get("b"))) == ({"v": 2}, {"v": 1})
    reloaded.close()
