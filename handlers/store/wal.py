"""The write-ahead log of the TinyDB store with a file (`--db PATH`): the append-only journal
beside the snapshot, its folding into the snapshot, recovery, and the lock on both.

Files, all beside PATH (PATH itself resolved, so a symlink and its target share one lock):
  PATH               the snapshot, a plain TinyDB JSON file; its table `_wal` says which
                     journal generations it covers
  PATH.journal       the live journal: one JSON line per committed transaction
  PATH.journal.<N>   generation N, rotated out of the live journal and waiting for a snapshot
                     that covers it
  PATH.lock          held (flock) by the one process serving PATH

Folding rotates the live journal to the next generation and writes a snapshot of the tables as
they were at that instant, marked as covering every generation up to it; only once that snapshot
is fsynced and renamed into place are the generations it covers removed. A fold that fails (a
full disk) removes nothing: the next fold covers those generations too. Recovery replays, over
the snapshot, the generations it does not cover and then the live journal, so a crash at any
instant gives back every acknowledged transaction.

An append that fails (ENOSPC, EIO) truncates the journal back to its last whole line, so nothing
of a refused transaction can reach the disk later, and raises StoreUnavailable; the store then
refuses writes (503 in the family's wire) and reads go on. The next append tries again, so writes
resume by themselves when space returns.
"""
from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import zlib
import threading
from pathlib import Path

from tinydb.storages import JSONStorage

from cancelgate.errors import ConfigError
from cancelgate.store.protocol import StoreLocked, StoreUnavailable

log = logging.getLogger("cancelgate.store")

SNAPSHOT_SYNC_BYTES = 4 << 20
META = "_wal"   # the snapshot's own table: {"state": {"covers": N}}


class WriteAheadLog:
    def __init__(self, path: Path):
        if path.is_dir():
            raise ConfigError(f"--db {path} is a directory; name a file, such as {path / 'cancelgate.json'}")
        if not path.parent.is_dir():
            raise ConfigError(f"--db {path}: the folder {path.parent} does not exist")
        path = path.resolve()
        self.path = path
        self.log_path = path.with_name(path.name + ".journal")
        self.legacy_log_path = path.with_name(path.name + ".journal.old")  # written by 0.1.0
        self._generation_name = re.compile(re.escape(path.name) + r"\.journal\.(\d+)\Z")
        self._lock_file = open(path.with_name(path.name + ".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise StoreLocked(f"{path} is already served by another cancelgate process "
                              f"(lock {self._lock_file.name}); stop it or use another --db") from None
        self._fd: int | None = None
        self._offset = 0
        self._folding: threading.Thread | None = None
        self.generation = 0     # the number the live journal gets when it is rotated
        self.pending = 0        # transactions appended since the last rotation
        self.pending_bytes = 0

    # --- recovery ------------------------------------------------------------------------------

    def _generations(self) -> list[tuple[int, Path]]:
        found = []
        for entry in self.path.parent.iterdir():
            match = self._generation_name.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
        return sorted(found)

    def recover(self) -> dict | None:
        """The snapshot with every complete journal line it does not cover applied; None if
        there is no database yet."""
        generations = self._generations()
        if not generations and not any(p.exists() for p in (self.path, self.log_path, self.legacy_log_path)):
            return None
        data: dict = {}
        if self.path.exists() and self.path.stat().st_size:
            try:
                data = JSONStorage(str(self.path), access_mode="r").read() or {}
            except (ValueError, UnicodeDecodeError) as error:
                raise ConfigError(f"--db {self.path} is not a cancelgate database (invalid JSON: {error})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--db {self.path}: the top level must be an object of table -> {{key: document}}")
        meta = data.pop(META, None)
        covers = (meta or {}).get("state", {}).get("covers", -1)
        # 0.1.0's rotated journal is unfolded only if the snapshot is 0.1.0's too (no META)
        legacy = [self.legacy_log_path] if meta is None else []
        logs = legacy + [p for n, p in generations if n > covers] + [self.log_path]
        for log_path in logs:
            if log_path.exists():
                _replay(data, log_path)
        self.generation = max([covers, *(n for n, _ in generations)]) + 1
        return data

    # --- appending -----------------------------------------------------------------------------

    def append(self, changes: list) -> None:
        """Write one transaction durably, or nothing at all (StoreUnavailable)."""
        line = _line(changes)
        try:
            if self._fd is None:
                self._open_at_a_whole_line()
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as error:
            self._truncate_back()
            raise StoreUnavailable(f"the change could not be written to {self.log_path}: "
                                   f"{error.strerror or error}; nothing was changed") from None
        self._offset += len(line)
        self.pending += 1
        self.pending_bytes += len(line)

    def _open_at_a_whole_line(self) -> None:
        """Open the live journal for appending, first cutting off a torn last line (left by a
        failed append whose truncation failed too): glued to the next line, it would make that
        acknowledged line, and every one after it, unreadable at recovery."""
        fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        end = size
        while end > 0 and os.pread(fd, 1, end - 1) != b"\n":
            end -= 1
        if end != size:
            try:
                os.ftruncate(fd, end)
                os.fsync(fd)
            except OSError:
                os.close(fd)
                raise
        self._fd, self._offset = fd, end

    def _truncate_back(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._offset)
        except OSError:
            # Cannot even truncate: close it, so the next append reopens and measures the file
            # afresh. Recovery stops at a torn line, so a partial line is never replayed.
            os.close(self._fd)
            self._fd = None

    # --- folding -------------------------------------------------------------------------------

    def _rotate(self) -> int:
        """The live journal becomes the next generation; appends go to a new live journal."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        number = self.generation
        if self.log_path.exists():
            os.replace(self.log_path, self.path.with_name(f"{self.path.name}.journal.{number}"))
            _fsync_dir(self.path.parent)
        self.generation += 1
        self.pending = self.pending_bytes = 0
        return number

    def _write_snapshot(self, data: dict, covers: int) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            written = 0
            with open(tmp, "w", encoding="utf-8") as out:
                for chunk in json.JSONEncoder(separators=(",", ":")).iterencode(
                        {**data, META: {"state": {"covers": covers}}}):
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
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        for number, generation in self._generations():
            if number <= covers:
                generation.unlink(missing_ok=True)
        self.legacy_log_path.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def fold_in_background(self, tables: dict) -> None:
        """Called under the store's lock: rotate, and write the snapshot from a thread."""
        if self._folding is not None and self._folding.is_alive():
            return
        covers = self._rotate()
        copy_of_tables = {kind: dict(docs) for kind, docs in tables.items()}

        def fold() -> None:
            try:
                self._write_snapshot(copy_of_tables, covers)
            except OSError as error:
                log.warning("folding the journal into %s failed (%s); its journals are kept and the "
                            "next fold covers them", self.path, error.strerror or error)
        self._folding = threading.Thread(target=fold, name="cancelgate-fold", daemon=True)
        self._folding.start()

    def fold_now(self, data: dict) -> None:
        """Fold everything into a snapshot of `data` now (start, reset, stop): one atomic step,
        the snapshot's rename. StoreUnavailable if it cannot be written (nothing is lost: the
        journals stay)."""
        if self._folding is not None:
            self._folding.join()
        covers = self._rotate()
        try:
            self._write_snapshot(data, covers)
        except OSError as error:
            raise StoreUnavailable(f"the snapshot {self.path} could not be written: "
                                   f"{error.strerror or error}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._lock_file.close()


# A transaction this large (a big array job's children, say) is written compressed: its
# documents repeat the same keys, so the line is a tenth the size to write and fsync.
COMPRESS_FROM = 64 << 10
COMPRESSED = b"z"


def _line(changes: list) -> bytes:
    raw = json.dumps(changes, separators=(",", ":")).encode()
    if len(raw) >= COMPRESS_FROM:
        raw = COMPRESSED + base64.b85encode(zlib.compress(raw, 1))
    return raw + b"\n"


def _changes(line: bytes) -> list:
    """One journal line's transaction (ValueError for a torn line)."""
    if line.startswith(COMPRESSED):
        try:
            line = zlib.decompress(base64.b85decode(line[1:].rstrip(b"\n")))
        except (zlib.error, ValueError) as error:
            raise ValueError(f"a torn compressed line: {error}") from None
    return json.loads(line)


def _replay(data: dict, log_path: Path) -> None:
    with open(log_path, "rb") as log_file:
        for line in log_file:
            try:
                changes = _changes(line)
            except ValueError:
                break  # a torn last line: that transaction was never acknowledged
            _apply(data, changes)


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
