"""Confinement of a strategy's worker process (Linux): what user code may reach.

`confine` (sandbox_confine.py) runs at the very start of a worker (isolation.main), before it
reads any strategy source, and leaves it with:
- its own user, mount, network, PID, IPC and UTS namespaces (unshare). The network namespace
  has no interface up: the socket pair the engine handed over is the only channel out.
- a root of its own (sandbox_root.py): a tmpfs holding read-only bind mounts of what the
  interpreter needs (the Python prefix, the venv, the velocimex_cli package, the shared
  libraries, /dev/null and the random devices), entered with pivot_root; the old root is
  detached. No /proc, no data directory, no VMX_HOME, no home directory, nothing writable.
- PID 1 of its PID namespace: the process the engine started stays outside as a supervisor
  that only waits for it and passes its end on; when either ends, everything the strategy
  started ends (the kernel kills a PID namespace with its init). It dies with its engine,
  whenever the engine dies: the supervisor arms PR_SET_PDEATHSIG (tied to the engine) and
  then checks the engine is still its parent; the worker arms its own (tied to the
  supervisor) after the fork and then checks the supervisor still holds the write end of a
  pipe only the supervisor has (getppid() is 0 inside the namespace): a death in between is
  seen either way.
- hard resource limits (sandbox_limits.py: address space, CPU time of all its threads,
  threads, open files, file size, core dumps) that it cannot raise: it holds no capability
  outside its namespace, and setrlimit / prlimit64 with a new limit are refused.
- PR_SET_NO_NEW_PRIVS, then a Landlock domain where the kernel has Landlock
  (sandbox_landlock.py: read-only file access, no TCP bind or connect, no abstract unix
  sockets or signals beyond itself), then a seccomp filter (sandbox_seccomp.py): no new
  sockets, no exec, no new processes (threads are allowed), no mounts, namespaces, ptrace,
  keyrings, BPF, io_uring, module loading; any other architecture's system calls kill the
  process. sandbox_syscalls.py holds what they share (the C library, the checked call,
  ConfinementError, the system call numbers).

Written with ctypes and a small classic-BPF program rather than a library: the seccomp and
Landlock bindings on PyPI either need libseccomp's shared library installed (python3-seccomp
is a distribution package, not a wheel) or cover only part of this; the program is a few
dozen instructions for the two architectures served (x86_64, aarch64).

This module is what the engine asks: `confinement_available()` runs the whole sequence once in
a throwaway process and caches the answer (the engine refuses or warns where it fails, see
uploads.py), and `worker_environment()` is a worker's whole environment.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys

from velocimex_cli.engine.drivers.strategies.sandbox_confine import confine
from velocimex_cli.engine.drivers.strategies.sandbox_root import PACKAGE_ROOT
from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import (
    ConfinementError,
    architecture,
)

# An engine whose environment holds this variable (any non-empty value) treats confinement as
# unavailable: tests use it to exercise the fallback. Read when the engine builds its node.
FORCE_UNCONFINED_ENV = "VMX_TEST_UNCONFINED"


# -- the probe -------------------------------------------------------------------------------
@functools.cache
def confinement_problem() -> str | None:
    """Why workers cannot be confined here, or None when they can: the whole sequence is run
    once in a throwaway process (which then checks a few of its walls). Cached."""
    if not sys.platform.startswith("linux"):
        return f"confinement needs Linux namespaces, seccomp and rlimits; this is {sys.platform}"
    if architecture() is None:
        return f"confinement is written for x86_64 and aarch64, not {platform.machine()}"
    try:
        probe = subprocess.run(
            [sys.executable, "-m", __name__, "--probe"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            env=worker_environment(),
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the confinement probe did not run: {exc}"
    if probe.returncode == 0 and probe.stdout.strip() == "confined":
        return None
    said = (probe.stdout + probe.stderr).strip().splitlines()
    reason = said[-1] if said else f"exit code {probe.returncode}"
    return f"the kernel refused the confinement ({reason})"


def confinement_available() -> bool:
    """Whether strategy workers can be confined on this machine (probed once, cached)."""
    return confinement_problem() is None


def worker_environment() -> dict[str, str]:
    """A worker's whole environment: what Python needs to find the package, the locale; none of
    the engine's (no VMX_*, no credentials, no PATH, no HOME)."""
    env = {
        "PYTHONPATH": PACKAGE_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
    }
    for name in ("LANG", "LC_ALL", "LC_CTYPE", "TZ"):
        value = os.environ.get(name)
        if value:
            env[name] = value
    return env


def _probe() -> int:
    """Confine this process as a worker would be, then check that the walls hold."""
    import socket as socket_module

    _left, right = socket_module.socketpair()
    try:
        confine(right.fileno(), 256 * 2**20, 5)
    except ConfinementError as exc:
        print(exc)
        return 1
    for wall, attempt in (
        ("a new socket", lambda: socket_module.socket()),
        ("a new process", lambda: os.fork() or os._exit(0)),
        ("the data directories", lambda: os.listdir("/proc")),
    ):
        try:
            attempt()
        except OSError:
            continue
        print(f"{wall} was not refused")
        return 1
    print("confined")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        sys.stdout.flush()
        code = _probe()
        sys.stdout.flush()
        os._exit(code)
