"""The worker's hard resource limits, which it cannot raise again (see sandbox.py)."""

from __future__ import annotations

import contextlib

THREADS = 64  # RLIMIT_NPROC: threads of the worker (it may not start processes at all)
OPEN_FILES = 64


def hard_limits(memory_bytes: int, cpu_seconds: int, *, confined: bool = True) -> None:
    """Limits this process cannot raise again (hard = soft, except CPU: SIGXCPU at the soft
    limit, SIGKILL a second later should it survive that). Unconfined, only those that count
    this process alone (RLIMIT_NPROC would count every process of the engine's user)."""
    import resource

    def cap(which: int, soft: int, hard: int) -> None:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    cap(resource.RLIMIT_AS, memory_bytes, memory_bytes)
    cap(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    cap(resource.RLIMIT_CORE, 0, 0)
    if not confined:
        return
    cap(resource.RLIMIT_NPROC, THREADS, THREADS)
    cap(resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES)
    cap(resource.RLIMIT_FSIZE, 0, 0)
    cap(resource.RLIMIT_MEMLOCK, 0, 0)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        cap(resource.RLIMIT_MSGQUEUE, 0, 0)
