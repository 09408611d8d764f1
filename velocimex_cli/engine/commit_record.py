"""How far a data directory's database had got, kept apart from it: the start-up check for lost
commits.

SQLite cannot tell a write-ahead log that was deleted, truncated or damaged from one that never
held more: it opens the older state without a word. So the store numbers its commits by epoch
(the `epoch` row of engine.db's `meta` table, moved on by a commit at most every
EPOCH_SECONDS) and this module keeps, in `engine.commits` beside engine.db, the database's id
and the last epoch a commit stored. At start the database must hold that id and at least that
epoch, or acknowledged commits are missing and the engine refuses to start (`DataLoss`).

Ordering: a commit's epoch is handed to the writer thread only after SQLite committed it, and
the file is replaced atomically (write a temporary file, fsync, rename, fsync the directory),
so the record never names an epoch the database was not given. It lags the database by at
most RECORD_SECONDS plus one fsync (written off the committing thread, at a bounded rate):
losing commits older than that is always detected; a loss confined to the last moments
before a crash may not be.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from velocimex_cli import paths

log = logging.getLogger("vmx.engine.store")

RECORD_NAME = "engine.commits"
EPOCH_SECONDS = 0.1  # a commit moves the epoch on at most this often
RECORD_SECONDS = 0.1  # the record file is rewritten at most this often
_MAGIC = "vmx-engine-commits 1"


class DamagedRecord(ValueError):
    """engine.commits exists but cannot be read."""


@dataclass(frozen=True, slots=True)
class CommitRecord:
    database_id: str
    epoch: int

    def text(self) -> str:
        body = f"{_MAGIC} {self.database_id} {self.epoch}"
        return f"{body} {zlib.crc32(body.encode()):08x}\n"


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_NAME


def read_record(data_dir: Path) -> CommitRecord | None:
    """The data directory's record; None when there is none (a new directory, or one written
    by a vmx before this record existed). DamagedRecord when it cannot be read."""
    path = record_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        magic_a, magic_b, database_id, epoch, crc = raw.decode("ascii").split()
        body = f"{magic_a} {magic_b} {database_id} {epoch}"
        if body.rsplit(" ", 2)[0] != _MAGIC or int(crc, 16) != zlib.crc32(body.encode()):
            raise ValueError("checksum")
        return CommitRecord(database_id, int(epoch))
    except (UnicodeDecodeError, ValueError):
        raise DamagedRecord(f"{path} is damaged") from None


def write_record(data_dir: Path, record: CommitRecord) -> None:
    """Replace the record atomically and durably (raises OSError, e.g. when the disk is full;
    the previous record then stays, which never claims more than was stored)."""
    path = record_path(data_dir)
    temporary = path.with_name(path.name + ".tmp")
    fd = paths.open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, record.text().encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class RecordWriter:
    """Writes the latest stored epoch to the record on its own thread, at most every
    RECORD_SECONDS (the committing thread only hands the number over)."""

    def __init__(self, data_dir: Path, record: CommitRecord) -> None:
        self._data_dir = data_dir
        self._database_id = record.database_id
        self._written = record.epoch
        self._latest = record.epoch
        self._wake = threading.Event()
        self._stopping = False
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="vmx-commit-record", daemon=True)
        self._thread.start()

    def stored(self, epoch: int) -> None:
        """A commit that set the database's epoch to `epoch` has been committed."""
        self._latest = epoch
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._write()
            if self._stopping:
                return
            # A bounded rate: the commits meanwhile are covered by the next write.
            time.sleep(RECORD_SECONDS)

    def _write(self) -> None:
        epoch = self._latest
        if epoch == self._written:
            return
        try:
            write_record(self._data_dir, CommitRecord(self._database_id, epoch))
        except OSError as exc:
            if not self._failing:
                log.warning("cannot update %s (%s); retrying", RECORD_NAME, exc)
                self._failing = True
            return
        if self._failing:
            log.warning("%s is written again", RECORD_NAME)
            self._failing = False
        self._written = epoch

    def stop(self) -> None:
        """Write the latest epoch and end the thread."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            if self._latest != self._written:
                self._write()
