"""What runs on this machine, read from /proc (Linux): the strategy workers an engine started,
whether a process is gone, and what a process was started with. Shared by the tests that kill
engines and by the suite's guard against processes left behind (tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

WORKER_MODULE = "velocimex_cli.engine.drivers.strategies.isolation"
PROC = Path("/proc")


def command_line(pid: int) -> list[str]:
    """The process's arguments ([] once it is gone, or for a kernel thread)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def environment(pid: int) -> dict[str, str]:
    """The environment the process was started with ({} if it cannot be read)."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            found[name] = value
    return found


def state(pid: int) -> str | None:
    """The process's state letter (R, S, D, T, Z, ...), None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def parent(pid: int) -> int | None:
    """The process's parent pid (as this namespace sees it), None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    """It runs (a zombie has ended: it only waits for its parent to read its status)."""
    return state(pid) not in (None, "Z")


def pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def worker_parent(arguments: list[str]) -> int | None:
    """The engine's pid a strategy worker was started for (`python -m ...isolation FD PARENT
    ...`), None if these are not a worker's arguments. A confined worker's supervisor and the
    worker it forks (PID 1 of its own namespace) both carry them."""
    if WORKER_MODULE not in arguments:
        return None
    after = arguments[arguments.index(WORKER_MODULE) + 1 :]
    return int(after[1]) if len(after) > 1 and after[1].isdigit() else None


def strategy_workers(engine_pid: int) -> list[int]:
    """Every live process of the strategy workers started by the engine `engine_pid`."""
    return [pid for pid in pids() if worker_parent(command_line(pid)) == engine_pid and alive(pid)]


def wait_gone(processes: Iterable[int], seconds: float) -> list[int]:
    """Wait up to `seconds` for every one of `processes` to end; those still running."""
    left = [pid for pid in processes if alive(pid)]
    deadline = time.monotonic() + seconds
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    return left


def kill_all(processes: Iterable[int]) -> None:
    """SIGKILL each (a test's own clean-up: what a failed assertion left running)."""
    for pid in processes:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
