"""The strategies an engine can deploy, and what it admits of user code: the registry
(built-ins and each account's checked uploads), whether workers are confined here, and the
check of an uploaded file in a short-lived worker before it is kept."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.drivers.strategies import sandbox
from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
from velocimex_cli.engine.drivers.strategies.protocol import (
    FROM_CHECK,
    Described,
    Failed,
    ProtocolViolation,
)
from velocimex_cli.engine.drivers.strategies.registry import StrategyRegistry
from velocimex_cli.wire.errors import InvalidParameter, PermissionDenied

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits

log = logging.getLogger("vmx.engine.strategies")


class StrategyUploads:
    """The registry of one engine's strategies and the admission of user code to it."""

    def __init__(self, data_dir: Path | None, limits: StrategyLimits) -> None:
        self.limits = limits
        self.registry = StrategyRegistry(data_dir)
        # Test-only switch (sandbox.FORCE_UNCONFINED_ENV), read once as the engine starts.
        self._force_unconfined = bool(os.environ.get(sandbox.FORCE_UNCONFINED_ENV))

    # -- confinement of strategy code (sandbox.py) ------------------------------------------
    def confinement_problem(self) -> str | None:
        """Why this engine's workers run unconfined, or None when they are confined."""
        if self._force_unconfined:
            return f"confinement is turned off ({sandbox.FORCE_UNCONFINED_ENV} is set, for tests)"
        return sandbox.confinement_problem()

    def admit_user_code(self, permissions: Collection[str] | None) -> str | None:
        """May a user strategy (uploaded code) be checked or deployed here? None: yes, confined.
        A warning to give: yes, unconfined (a loopback engine, a key with the `strategies`
        permission, or the engine's own caller: `permissions` None). PermissionDenied: no."""
        problem = self.confinement_problem()
        if problem is None:
            return None
        if self.limits.confinement_required:
            raise PermissionDenied(
                "This engine serves beyond loopback and cannot confine strategy code here "
                f"({problem}), so it runs no user strategies; built-in ones still deploy. "
                "Serve on 127.0.0.1 or run the engine where confinement works (Linux with "
                "user namespaces and seccomp)."
            )
        if permissions is not None and "strategies" not in permissions:
            raise PermissionDenied(
                f"This engine cannot confine strategy code ({problem}): user strategies run "
                "unconfined here, only for keys with the `strategies` permission."
            )
        return f"this strategy's code is NOT confined: it runs with the engine's rights ({problem})"

    def worker_options(self, cpu_seconds: float) -> dict[str, Any]:
        """How a worker is started: its hard limits, and whether it confines itself."""
        return {
            "memory_bytes": self.limits.memory_bytes,
            "cpu_seconds": cpu_seconds,
            "confined": self.confinement_problem() is None,
        }

    def check_source(self, source: object, filename: object) -> dict[str, Any]:
        """Describe a user file in a short-lived worker (blocking: run it off the loop)."""
        from velocimex_cli.engine.drivers.strategies.registry import MAX_SOURCE_BYTES
        from velocimex_cli.engine.drivers.strategies.worker import run_check

        if not isinstance(source, str) or not source.strip():
            raise InvalidParameter("source", None, "source must be the strategy file's text")
        if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise InvalidParameter(
                "source", f"{len(source)} characters", f"a strategy file is at most "
                f"{MAX_SOURCE_BYTES // 1024} KiB",
            )  # fmt: skip
        name = filename if isinstance(filename, str) and filename else "strategy.py"
        name = name.replace("\\", "/").rsplit("/", 1)[-1][:100]
        options = self.worker_options(self.limits.start_seconds + 1)
        worker = WorkerProcess(run_check, (source, name, self.limits.memory_bytes), **options)
        try:
            if not worker.poll(self.limits.start_seconds):
                raise InvalidParameter(
                    "source",
                    name,
                    f"{name}: loading the file took longer than {self.limits.start_seconds:g} s",
                )
            try:
                answer = worker.receive(FROM_CHECK)
            except (EOFError, OSError):
                raise InvalidParameter(
                    "source",
                    name,
                    f"{name}: loading the file ended its process "
                    f"({worker.exit_description_after(1.0)}); is it allocating without bound?",
                ) from None
            except ProtocolViolation as exc:
                raise _check_violation(name, str(exc)) from None
            if worker.channel.buffered or worker.channel.broken:
                raise _check_violation(name, "it sent more than its one answer")
        finally:
            worker.kill()
        if isinstance(answer, Failed):
            if answer.error is not None:
                raise answer.error.exception()
            raise InvalidParameter("source", name, answer.message)
        described: Described = answer
        return described.strategy.to_dict()


def _check_violation(name: str, why: str) -> InvalidParameter:
    log.warning("the upload check of %s broke the worker protocol: %s", name, why)
    return InvalidParameter(
        "source",
        name,
        f"{name}: refused: loading the file broke the worker protocol ({why}); a strategy "
        "must not write to its worker's socket",
    )
