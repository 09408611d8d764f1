"""Where vmx keeps its files.

With `VMX_HOME` set, everything (config, credentials, engine data, state, logs) lives under that
one directory; otherwise the platform's conventional directories (platformdirs) are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vmx"


def _home() -> Path | None:
    value = os.environ.get("VMX_HOME")
    # Absolute from the start: messages name real paths, and a background engine records
    # paths that mean the same thing from any working directory.
    return Path(value).expanduser().absolute() if value else None


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "config"
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def state_dir() -> Path:
    """Run-time state of the background engine: address, pid file, log."""
    home = _home()
    if home is not None:
        return home / "state"
    from platformdirs import user_state_path

    return user_state_path(APP_NAME)


def engine_data_dir() -> Path:
    """The embedded engine's default data directory (holds engine.db)."""
    return data_dir() / "engine"


def cache_dir() -> Path:
    """Results that can be recomputed (backtest sweeps)."""
    home = _home()
    if home is not None:
        return home / "cache"
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)


# ------------------------------------------------------------------ private files
# Everything vmx writes (settings, credentials, engine state, logs, locks, engine.db and its
# -wal/-shm) is for its owner only: directories 0700, files 0600, whatever the umask.

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class UnsafeFileError(Exception):
    """A file vmx relies on is not private to the user; the message says what to chmod."""


def restrict_umask() -> None:
    """Make this process (and the engine it starts) create private files by default.

    The explicit modes below are the guarantee; the umask covers what third-party code
    creates (SQLite's -wal and -shm files take the database's mode, but only if it is 0600).
    """
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 directories (existing ones are kept)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def open_private(path: Path, flags: int = os.O_RDWR) -> int:
    """Open (creating if need be) a file as 0600 in a private directory; returns the fd.

    An existing file of ours with a looser mode is tightened to 0600.
    """
    private_dir(path.parent)
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.getuid() and info.st_mode & 0o777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, as a 0600 file."""
    private_dir(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def check_owned_and_not_writable(path: Path) -> None:
    """Refuse a file another user owns or the group/others may write (it could be planted)."""
    info = path.stat()
    mode = info.st_mode & 0o777
    if info.st_uid != os.getuid():
        raise UnsafeFileError(
            f"refusing to trust {path}: it belongs to user id {info.st_uid}, not you. "
            f"Remove it (rm {path}) or take it over (chown {os.getuid()} {path})"
        )
    if mode & 0o022:
        raise UnsafeFileError(
            f"refusing to trust {path}: others may write it (mode {mode:04o}). "
            f"Fix it with: chmod 600 {path}"
        )
