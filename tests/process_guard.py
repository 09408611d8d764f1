"""The suite's guard against processes left behind: an engine or a strategy worker a test
started and never ended keeps running (and, a busy strategy, burning a core) after the suite.

Each pytest process (the only one, or each xdist worker) marks what it starts: `mark()` puts a
token of its own in its environment (`SUITE_MARK`; not a `VMX_` name, which the tests' own
environments drop), and every `vmx` the tests start inherits it. At the end of the session,
`left_behind()` finds this process's own:

- `vmx` processes (an engine, a command left running) started with its token;
- strategy workers of those, or of an engine running inside this process (the API tests');
- strategy workers whose engine is gone (their environment is the worker's own, without the
  token): those started by this interpreter (same `sys.executable`) since the session began.
  Another xdist worker's orphan counts too: it is the same suite's.

What is found gets a grace period to end (an engine stopped by the last fixture may still be
shutting down); what still runs then is reported with its command line, killed, and fails the
session (tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.process_table import alive, command_line, environment, kill_all, pids, worker_parent

SUITE_MARK = "VELOCIMEX_TEST_SUITE"
# Seconds what is found may take to end; a test of the guard itself shortens it.
GRACE_SECONDS = float(os.environ.get("VELOCIMEX_TEST_GUARD_GRACE", "15"))


@dataclass(frozen=True)
class Session:
    token: str
    started: int  # clock ticks since boot, as /proc/PID/stat counts a process's start


def mark() -> Session:
    """Mark every process this one starts from now on (a new token per pytest process)."""
    token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    os.environ[SUITE_MARK] = token
    return Session(token, _now_ticks())


def _now_ticks() -> int:
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def _start_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[19])  # field 22 of stat: the start time


def _is_vmx(arguments: list[str]) -> bool:
    return any(
        "velocimex_cli" in argument or os.path.basename(argument) == "vmx"
        for argument in arguments[:3]
    )


def _ours(session: Session) -> dict[int, list[str]]:
    me = os.getpid()
    marked: dict[int, list[str]] = {}
    workers: dict[int, tuple[int, list[str]]] = {}
    for pid in pids():
        if pid == me or not alive(pid):
            continue
        arguments = command_line(pid)
        parent = worker_parent(arguments)
        if parent is not None:
            workers[pid] = (parent, arguments)
        elif _is_vmx(arguments) and environment(pid).get(SUITE_MARK) == session.token:
            marked[pid] = arguments
    found = dict(marked)
    for pid, (parent, arguments) in workers.items():
        ours = parent == me or parent in marked
        orphan = (
            not alive(parent)
            and arguments[:1] == [sys.executable]
            and _start_ticks(pid) >= session.started
        )
        if ours or orphan:
            found[pid] = arguments
    return found


def left_behind(session: Session) -> dict[int, list[str]]:
    """This session's engines and workers still running after GRACE_SECONDS; killed, and
    returned (pid: command line) for the report."""
    found = _ours(session)
    deadline = time.monotonic() + GRACE_SECONDS
    while found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = _ours(session)  # a worker may fork its own meanwhile: it counts too
    kill_all(found)
    return found


def report(found: dict[int, list[str]]) -> str:
    lines = [
        f"{len(found)} process(es) started by the tests outlived them (killed now): a test "
        "started an engine or a strategy worker and did not end it, or a worker outlived its "
        "engine."
    ]
    for pid, arguments in sorted(found.items()):
        lines.append(f"  pid {pid}: {' '.join(arguments)[:300]}")
    return "\n".join(lines)
