"""The --db write-ahead log on a disk that fills up: a refused change leaves nothing behind, a
failed fold discards no journal, and writes resume by themselves when space returns.

These run on a small tmpfs mounted by the test (root in a sandbox that allows mounts), and are
skipped with the reason elsewhere."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from cancelgate.store import StoreUnavailable
from cancelgate.store.tinydb_store import TinyStore
from tests.conftest import aws_client, start_server


def tmpfs(path, size: str):
    """Mount a tmpfs of `size` at `path` (a fresh folder), or skip the test with the reason."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    return path


@pytest.fixture
def small_disk(tmp_path):
    yield tmpfs(tmp_path / "disk", "4m")
    subprocess.run(["umount", "-l", str(tmp_path / "disk")], check=False)


@pytest.fixture
def roomy_disk(tmp_path):
    yield tmpfs(tmp_path / "roomy", "16m")
    subprocess.run(["umount", "-l", str(tmp_path / "roomy")], check=False)


def fill(disk, leave: int = 0):
    """Fill the disk up to `leave` bytes free; the filler's path (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "ab") as out:
        while True:
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            if free <= leave:
                break
            try:
                out.write(b"\0" * min(free - leave, 1 << 20))
                out.flush()
            except OSError:
                break
    return filler


def test_a_refused_change_is_never_written_later(small_disk):
    """After ENOSPC the refused line must not sit in a buffer and reach the disk with the next
    append (it once did: 10 of 22 refused cancels came back after a restart)."""
    path = small_disk / "state.json"
    store = TinyStore(path, {"t": {}})
    # lines larger than a page, so that no append fits in the journal's last, partly used page
    write = lambda key: store.transact(lambda tx: tx.table("t").__setitem__(key, {"key": key, "pad": "x" * 9000}))
    write("acknowledged")
    filler = fill(small_disk)
    refused = 0
    for n in range(20):
        with pytest.raises(StoreUnavailable):
            write(f"refused-{n}")
        refused += 1
    assert store.transact(lambda tx: tx.table("t").get("refused-0")) is None   # state unchanged
    assert store.transact(lambda tx: tx.table("t").get("acknowledged"))["key"] == "acknowledged"
    filler.unlink()
    write("after")                       # writes resume by themselves
    store._journal._lock_file.close()    # a crash: no fold at stop
    reloaded = TinyStore(path)
    keys = reloaded.transact(lambda tx: sorted(doc["key"] for doc in tx.table("t").values()))
    reloaded.close()
    assert refused == 20 and keys == ["acknowledged", "after"]


def test_failed_folds_discard_no_journal(small_disk, monkeypatch):
    """Two folds fail on a full disk, a crash follows: every acknowledged change is back (the
    second fold once renamed the live journal over the first one's unfolded journal)."""
    import cancelgate.store.tinydb_store as store_module
    monkeypatch.setattr(store_module, "COMPACT_EVERY", 50)
    path = small_disk / "state.json"
    # 300 documents of 1 KB: a snapshot needs ~300 KB; a fold starts after 300 changes
    store = TinyStore(path, {"t": {f"doc-{n}": {"key": f"doc-{n}", "pad": "z" * 1000} for n in range(300)}})
    acknowledged = []

    def write(key):
        store.transact(lambda tx: tx.table("t").__setitem__(key, {"key": key}))
        acknowledged.append(key)

    for round_number in range(2):
        for n in range(3):
            write(f"first-{round_number}-{n}")
        filler = fill(small_disk, leave=150_000)   # room for the journal's lines, not for a snapshot
        for n in range(400):                        # starts a fold, which fails
            try:
                write(f"hot-{n % 5}")
            except StoreUnavailable:
                pass   # the failing fold's temporary file may fill the disk for a moment: refused, not lost
        if store._journal._folding is not None:
            store._journal._folding.join()
        filler.unlink()
    generations = sorted(p.name for p in small_disk.iterdir() if ".journal." in p.name)
    assert len(generations) == 2, f"both folds were expected to fail and keep their journals: {generations}"
    store._journal._lock_file.close()              # SIGKILL-like: no clean stop
    reloaded = TinyStore(path)
    keys = set(reloaded.transact(lambda tx: [doc["key"] for doc in tx.table("t").values()]))
    reloaded.close()
    assert set(acknowledged) <= keys
    assert {f"first-{r}-{n}" for r in range(2) for n in range(3)} <= keys
    assert not any(".journal." in p.name for p in small_disk.iterdir())  # the start's fold covered them


def test_a_full_disk_is_a_503_in_the_family_wire_and_reads_go_on(small_disk, tmp_path):
    db = small_disk / "state.json"
    server = start_server(tmp_path, "--db", str(db))
    try:
        batch = aws_client("batch", server.url)
        job = "00000000-0000-4000-8000-000000000006"
        filler = fill(small_disk)
        with pytest.raises(batch.exceptions.ServerException) as refused:
            batch.cancel_job(jobId=job, reason="disk full")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "RUNNABLE"   # reads work
        filler.unlink()
        batch.cancel_job(jobId=job, reason="space is back")
        # the first cancel recorded is the one that takes effect at the head of the queue: had the
        # refused one left anything behind, the reason would be "disk full"
        moved = httpx.post(f"{server.url}/_cancelgate/batch/queues/default/dispatch").json()
        assert moved == {"jobId": job, "status": "FAILED"}
        answer = httpx.post(f"{server.url}/v1/describejobs", json={"jobs": [job]}).json()["jobs"][0]
        assert answer["statusReason"] == "space is back"
        log = server.output()
        assert log.count("refusing changes") == 1 and "Traceback" not in log
    finally:
        server.stop()


def test_a_symlinked_db_shares_the_lock_of_its_target(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / f"link-{uuid.uuid4().hex[:6]}.json"
    first = TinyStore(real, {"t": {}})
    link.symlink_to(real)
    from cancelgate.store import StoreLocked
    with pytest.raises(StoreLocked):
        TinyStore(link)
    first.close()
    second = TinyStore(link)
    second.close()
    assert link.is_symlink()     # the fold at stop wrote the target, not over the link


def test_reset_is_one_atomic_step(tmp_path):
    path = tmp_path / "state.json"
    store = TinyStore(path, {"t": {"a": {"key": "a"}}})
    store.transact(lambda tx: tx.table("t").__setitem__("b", {"key": "b"}))
    store.reset({"t": {"c": {"key": "c"}}})
    store._journal._lock_file.close()   # a crash right after the reset answered
    reloaded = TinyStore(path)
    assert reloaded.transact(lambda tx: sorted(d["key"] for d in tx.table("t").values())) == ["c"]
    reloaded.close()


def test_a_torn_line_left_by_a_failed_truncation_is_cut_before_the_next_append(tmp_path):
    """When even the truncation after a failed append fails, the journal is closed with a torn
    line at its end; the next append reopens it and must cut that line first, or the next
    acknowledged line would be glued to it and lost at recovery."""
    path = tmp_path / "state.json"
    store = TinyStore(path, {"t": {}})
    store.transact(lambda tx: tx.table("t").__setitem__("first", {"key": "first"}))
    with open(str(path) + ".journal", "ab") as journal:
        journal.write(b'[["t","refused",{"ke')   # what the failed append left
    os.close(store._journal._fd)                  # what the failed truncation does
    store._journal._fd = None
    store.transact(lambda tx: tx.table("t").__setitem__("second", {"key": "second"}))
    store.transact(lambda tx: tx.table("t").__setitem__("third", {"key": "third"}))
    store._journal._lock_file.close()   # a crash
    reloaded = TinyStore(path)
    keys = reloaded.transact(lambda tx: sorted(doc["key"] for doc in tx.table("t").values()))
    reloaded.close()
    assert keys == ["first", "second", "third"]


@pytest.mark.slow
def test_sigkill_during_a_failed_fold_loses_no_acknowledged_change(roomy_disk, tmp_path):
    """The crash test's round with a full disk: the server's background fold fails for want of
    space, the server is SIGKILLed, and the restart finds every acknowledged submit and cancel."""
    from tests.conftest import ROOT
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    for file in (ROOT / "data").glob("*.json"):
        (fixtures / file.name).write_text(file.read_text())
    ballast = {f"00000000-0000-4000-9000-{n:012d}": {
        "jobId": f"00000000-0000-4000-9000-{n:012d}", "jobName": "ballast", "jobQueue": "default",
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/report:1", "status": "SUCCEEDED",
        "createdAt": n, "dependsOn": [], "parameters": {"pad": "p" * 1200}} for n in range(1000)}
    (fixtures / "zz-ballast.json").write_text(json.dumps({"batch_jobs": ballast}))
    db = roomy_disk / "state.json"
    server = start_server(tmp_path, "--db", str(db), "--fixtures", str(fixtures), "--no-lifecycle")
    acknowledged: dict[str, str] = {}
    journal = roomy_disk / "state.json.journal"
    filler = None
    try:
        batch = aws_client("batch", server.url)

        def submit_and_cancel(n: int) -> None:
            try:
                job_id = batch.submit_job(jobName=f"j{n}", jobQueue="default", jobDefinition="report")["jobId"]
            except batch.exceptions.ServerException:
                return                            # refused (503): never acknowledged
            acknowledged[job_id] = ""
            try:
                batch.cancel_job(jobId=job_id, reason=f"r{n}")
                acknowledged[job_id] = f"r{n}"
            except batch.exceptions.ServerException:
                pass
        for n in range(200):
            submit_and_cancel(n)
        per_change = journal.stat().st_size / 400
        # room for the journal's lines until the fold (at 5,000 changes), not for its snapshot
        filler = fill(roomy_disk, leave=int(per_change * 4700))
        for n in range(200, 2700):
            submit_and_cancel(n)
        deadline = time.monotonic() + 20
        while "folding the journal" not in server.output():   # the background fold did fail
            assert time.monotonic() < deadline, server.output()[-1500:]
            time.sleep(0.2)
    finally:
        server.stop(signal.SIGKILL)
        if filler is not None:
            filler.unlink()
    restarted = start_server(tmp_path, "--db", str(db), "--fixtures", str(fixtures), "--no-lifecycle")
    try:
        ids = sorted(acknowledged)
        found = {job["jobId"]: job for start in range(0, len(ids), 100)
                 for job in httpx.post(f"{restarted.url}/v1/describejobs",
                                       json={"jobs": ids[start:start + 100]}).json()["jobs"]}
        assert len(ids) > 2000 and set(found) == set(ids)
        for job_id, reason in acknowledged.items():
            if reason:
                assert (found[job_id]["status"], found[job_id]["statusReason"]) == ("FAILED", reason)
    finally:
        restarted.stop()


def test_a_large_transaction_is_journalled_compressed_and_recovered(tmp_path):
    """A transaction of 64 KiB or more (a wide array job's children) is one compressed line; a
    crash replays it whole, and a torn copy of one is the unacknowledged tail it looks like."""
    docs = {f"child:{n}": {"key": f"child:{n}", "status": "SUBMITTED", "createdAt": n} for n in range(5000)}
    plain = len(json.dumps([["t", k, d] for k, d in docs.items()], separators=(",", ":")))
    for torn in (False, True):
        path = tmp_path / f"torn-{torn}" / "state.json"
        path.parent.mkdir()
        store = TinyStore(path, {"t": {}})
        store.transact(lambda tx: tx.table("t").__setitem__("kept", {"key": "kept"}))
        store.transact(lambda tx: [tx.table("t").__setitem__(key, doc) for key, doc in docs.items()])
        journal = next(p for p in path.parent.iterdir() if ".journal" in p.name and p.stat().st_size)
        first, big = journal.read_bytes().splitlines(keepends=True)
        assert big.startswith(b"z") and len(big) < plain / 4
        store._journal._lock_file.close()    # a crash: no fold at stop
        if torn:                             # the big line cut short, as a crash mid-append leaves it
            with journal.open("r+b") as cut:
                cut.truncate(len(first) + len(big) // 2)
        reloaded = TinyStore(path)
        state = reloaded.transact(lambda tx: dict(tx.table("t").items()))
        reloaded.close()
        assert state == ({"kept": {"key": "kept"}} if torn else {"kept": {"key": "kept"}, **docs})
