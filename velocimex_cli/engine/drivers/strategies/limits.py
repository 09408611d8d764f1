"""What the strategy deployments of one engine may use (the node's settings carry one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StrategyLimits:
    """What one deployment may use: each callback's time budget and its worker's memory."""

    callback_seconds: float = 1.0
    # The worker's start-up (imports, loading the class): under the client's 10 s timeout.
    start_seconds: float = 5.0
    memory_bytes: int = 512 * 2**20  # address space of the worker process
    log_lines: int = 1000  # kept per deployment
    max_running: int = 16  # deployments running at once (each is a process)
    # At most this share of the engine's thread serves strategies' context calls, all
    # deployments together (1.0: no limit); the rest is everyone else's orders.
    loop_share: float = 0.08
    # Strategy uploads checked at once (each check is a worker process for up to start_seconds);
    # one more is refused with RATE_LIMIT_EXCEEDED (engine/api/upload_checks.py).
    max_checks: int = 2
    # CPU time a worker may use in all (every thread; RLIMIT_CPU): past it, it is killed and its
    # deployment fails. Hooks that wait on the node cost none of it.
    cpu_seconds: float = 3600.0
    # Refuse user strategies where their workers cannot be confined (sandbox.py): set for an
    # engine serving beyond loopback. A loopback engine runs them unconfined, with a warning,
    # for keys with the `strategies` permission.
    confinement_required: bool = False
