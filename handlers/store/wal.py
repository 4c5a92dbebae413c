"""The write-ahead log of the TinyDB store with a file (`--db PATH`): the append-only journal
beside the snapshot, its folding into the snapshot, recovery, and the lock on both."""
from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from tinydb.storages import JSONStorage

from cancelgate.errors import ConfigError
from cancelgate.store.protocol import StoreLocked

SNAPSHOT_SYNC_BYTES = 4 << 20


class WriteAheadLog:
    """The append-only change log beside a TinyDB snapshot file, and the lock on both.

    Compaction runs in the background: under the store's lock the journal is rotated to
    `PATH.journal.old` and the tables are copied (shallow: stored documents are never changed in
    place, only replaced); a thread then writes the snapshot and removes the old journal. Until it
    has, recovery replays the old journal and then the new one over the last snapshot, which
    gives the same state whichever step a crash interrupted.
    """

    def __init__(self, path: Path):
        if path.is_dir():
            raise ConfigError(f"--db {path} is a directory; name a file, such as {path / 'cancelgate.json'}")
        if not path.parent.is_dir():
            raise ConfigError(f"--db {path}: the folder {path.parent} does not exist")
        self.path = path
        self.log_path = path.with_name(path.name + ".journal")
        self.old_log_path = path.with_name(path.name + ".journal.old")
        self._lock_file = open(path.with_name(path.name + ".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreLocked(f"{path} is already served by another cancelgate process "
                              f"(lock {self._lock_file.name}); stop it or use another --db") from None
        self._log = None
        self._compacting: threading.Thread | None = None
        self.pending = 0

    def recover(self) -> dict | None:
        """The snapshot with every complete journal line applied; None if there is no database."""
        if not any(p.exists() for p in (self.path, self.log_path, self.old_log_path)):
            return None
        data: dict = {}
        if self.path.exists() and self.path.stat().st_size:
            try:
                data = JSONStorage(str(self.path), access_mode="r").read() or {}
            except (ValueError, UnicodeDecodeError) as error:
                raise ConfigError(f"--db {self.path} is not a cancelgate database (invalid JSON: {error})") from None
        for log_path in (self.old_log_path, self.log_path):
            if log_path.exists():
                with open(log_path, "rb") as log:
                    for line in log:
                        try:
                            changes = json.loads(line)
                        except ValueError:
                            break  # a torn last line: that transaction was never acknowledged
                        _apply(data, changes)
        return data

    def append(self, changes: list) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")
        self._log.write(json.dumps(changes, separators=(",", ":")).encode() + b"\n")
        self._log.flush()
        os.fsync(self._log.fileno())
        self.pending += 1

    def _write_snapshot(self, data: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        written = 0
        with open(tmp, "w", encoding="utf-8") as out:
            for chunk in json.JSONEncoder(separators=(",", ":")).iterencode(data):
                out.write(chunk)
                written += len(chunk)
                if written >= SNAPSHOT_SYNC_BYTES:
                    # flush as we go: one big fsync at the end would make the journal's small
                    # fsyncs in the serving thread wait behind the whole file (ext4 ordering)
                    out.flush()
                    os.fsync(out.fileno())
                    written = 0
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def compact_in_background(self, tables: dict) -> None:
        """Called under the store's lock: rotate the journal and fold it in from a thread."""
        if self._compacting is not None and self._compacting.is_alive():
            return
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.log_path.exists():
            os.replace(self.log_path, self.old_log_path)
            _fsync_dir(self.path.parent)
        self.pending = 0
        copy_of_tables = {kind: dict(docs) for kind, docs in tables.items()}

        def fold() -> None:
            self._write_snapshot(copy_of_tables)
            self.old_log_path.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
        self._compacting = threading.Thread(target=fold, name="cancelgate-compaction", daemon=True)
        self._compacting.start()

    def snapshot(self, data: dict) -> None:
        """Fold everything into the snapshot now and start an empty journal (start, reset, stop)."""
        if self._compacting is not None:
            self._compacting.join()
        self._write_snapshot(data)
        if self._log is not None:
            self._log.close()
            self._log = None
        with open(self.log_path, "wb") as log:
            os.fsync(log.fileno())
        self.old_log_path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        self.pending = 0

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
        self._lock_file.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(data: dict, changes: list) -> None:
    for kind, key, doc in changes:
        table = data.setdefault(kind, {})
        if doc is None:
            table.pop(key, None)
        else:
            table[key] = doc
