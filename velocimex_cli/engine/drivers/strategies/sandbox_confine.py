"""Confining a worker: the namespaces, the fork of the worker as PID 1 of its own PID namespace,
the supervisor that stays outside, and how the worker is bound to die with them; then its root,
limits, Landlock and seccomp filter, in that order (sandbox.py tells the whole story)."""

from __future__ import annotations

import contextlib
import os
import platform
import select
import signal
import sys

from velocimex_cli.engine.drivers.strategies.sandbox_landlock import apply_landlock
from velocimex_cli.engine.drivers.strategies.sandbox_limits import hard_limits
from velocimex_cli.engine.drivers.strategies.sandbox_root import DEVICES, build_root
from velocimex_cli.engine.drivers.strategies.sandbox_seccomp import install_seccomp
from velocimex_cli.engine.drivers.strategies.sandbox_syscalls import (
    ConfinementError,
    architecture,
    check,
    libc,
)

CONFINE_FAILED_EXIT = 121  # the worker could not confine itself and ran nothing

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as file:
            file.write(text)
    except OSError as exc:
        raise ConfinementError(f"writing {path}: {exc.strerror}") from None


def _supervise(child: int, keep_fd: int, cpu_seconds: int) -> None:
    """The process the engine started, once the confined worker is forked: it holds nothing of
    the channel, waits, and ends as the worker ended (so the engine reads the same status).
    The worker, its namespace's init, ignores SIGXCPU (the kernel spares an init the signals it
    has no handler for) and is killed at the hard CPU limit: a SIGKILL after using up its CPU
    time is passed on as SIGXCPU, so the engine can say why."""
    with contextlib.suppress(OSError):
        os.close(keep_fd)
    for ignored in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)
    while True:
        try:
            _, status, usage = os.wait4(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and usage.ru_utime + usage.ru_stime >= cpu_seconds:
            sig = signal.SIGXCPU
        with contextlib.suppress(Exception):
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(Exception):
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _hung_up(fd: int) -> bool:
    """Whether every write end of the pipe `fd` reads from is closed (without waiting)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def confine(
    channel_fd: int, memory_bytes: int, cpu_seconds: int, parent: int | None = None
) -> None:
    """Confine this (fresh, single-threaded) worker; returns in the confined process, which is
    PID 1 of a new PID namespace and a child of this one (which never returns). Raises
    ConfinementError before the fork, or exits CONFINE_FAILED_EXIT after it, when any step
    fails: nothing runs unconfined once confinement was asked for."""
    arch = architecture()
    if not sys.platform.startswith("linux") or arch is None:
        raise ConfinementError(f"confinement needs Linux on x86_64 or aarch64, not "
                               f"{sys.platform} on {platform.machine()}")  # fmt: skip
    lib = libc()
    uid, gid = os.geteuid(), os.getegid()
    check(
        lib.unshare(
            CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        ),
        "creating the namespaces",
    )
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    # Entering a user namespace may clear the parent-death signal: set it again, and end if
    # the engine (`parent`) is gone already.
    check(lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    if parent is not None and os.getppid() != parent:
        os._exit(0)
    # The supervisor's lifeline: only it holds the write end, so the worker reads a hang-up
    # once the supervisor is gone, however it ended.
    lifeline, held = os.pipe()
    child = os.fork()
    if child:
        os.close(lifeline)
        _supervise(child, channel_fd, cpu_seconds)
    try:
        # PID 1 of the new namespace: dies with the supervisor, which dies with the engine.
        # The signal is armed only now: had the supervisor died since the fork, it would never
        # come (and getppid() is 0 in a new PID namespace), so the lifeline says whether it
        # still lives. From here on its death kills this process.
        os.close(held)
        check(lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
        if _hung_up(lifeline):
            os._exit(0)
        os.close(lifeline)
        build_root(lib)
        os.closerange(3, channel_fd)
        os.closerange(channel_fd + 1, 1 << 16)
        hard_limits(memory_bytes, cpu_seconds)
        check(lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
        check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
        apply_landlock(lib, tuple(path for path in DEVICES if os.path.exists(path)))
        install_seccomp(lib, arch)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"confinement failed: {exc}\n")
            sys.stderr.flush()
        os._exit(CONFINE_FAILED_EXIT)
    sys.path[:] = [entry for entry in sys.path if entry and os.path.isdir(entry)]
