"""Exclusive OS file locks that die with their process, and what their holder says about itself.

An engine holds `flock(LOCK_EX)` on a lock file for its whole life: the kernel releases it when
the process ends, however it ends (kill -9 included), so a lock is never stale. The holder
writes a small JSON note into the file (pid, url, ...) so whoever finds the lock taken can name
the process that holds it. Light on purpose (standard library only): the CLI imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from velocimex_cli import paths

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; vmx's engine is POSIX-only
    fcntl = None  # type: ignore[assignment]  # no module on Windows

POLL_SECONDS = 0.01


class LockHeld(Exception):
    """Another process holds the lock; `holder` is what it wrote about itself (maybe {})."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is locked by {describe(holder)}")


def describe(holder: dict[str, Any]) -> str:
    """`pid 123 at http://127.0.0.1:7878` (as much as the holder has written)."""
    parts = []
    if holder.get("pid"):
        parts.append(f"pid {holder['pid']}")
    if holder.get("url"):
        parts.append(f"at {holder['url']}")
    return " ".join(parts) or "another process"


def read_holder(path: Path) -> dict[str, Any]:
    """The note the lock's holder wrote ({} if none, or unreadable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


class ExclusiveLock:
    """A held exclusive lock on `path`; `release()` (or process exit) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, *, wait: float = 0.0) -> ExclusiveLock:
        """Take the lock, retrying for up to `wait` seconds; LockHeld if someone keeps it.

        Short waits absorb probes (`is_held` takes a shared lock for an instant).
        """
        fd = paths.open_private(path, os.O_RDWR)
        if fcntl is None:  # pragma: no cover
            return cls(path, fd)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockHeld(path, read_holder(path)) from None
                time.sleep(POLL_SECONDS)
                continue
            return cls(path, fd)

    def record(self, **note: Any) -> None:
        """Replace the note others read when they find the lock taken."""
        if self._fd is None:
            return
        data = json.dumps(note).encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        """Drop the lock. The note keeps only where the holder served (`last_url`), so the
        next engine on the same data can come back at the same address; it names no holder
        (a lock that is not taken has none, whatever its file says)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError, ValueError):
            size = os.fstat(self._fd).st_size
            note = json.loads(os.pread(self._fd, min(size, 4096), 0) or b"{}")
            url = note.get("url") or note.get("last_url") if isinstance(note, dict) else None
            os.ftruncate(self._fd, 0)
            if isinstance(url, str):
                os.pwrite(self._fd, json.dumps({"last_url": url}).encode("utf-8"), 0)
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None


def is_held(path: Path) -> bool:
    """Whether some process holds an exclusive lock on `path` now (False if no such file)."""
    if fcntl is None:  # pragma: no cover
        return path.exists()
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block, waiting as long as it takes."""
    fd = paths.open_private(path, os.O_RDWR)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
