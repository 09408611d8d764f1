"""Worker supervision: who watches the deployments' workers, and when each is served.

On a loop (the server), each worker's socket is watched by the loop (`watch`), engine events
wake idle deployments in a later turn (`on_event`), and `run` enforces the time budgets and
fires the hosts' timers. A stepped node instead calls `settle` after each step: it waits for
every deployment's worker (each hook within its budget) until nothing is left to do, so the
same clock and seed give the same run. `shutdown` and `stop_after_rollback` end them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from velocimex_cli.engine.drivers.strategies.host import STOPPED
from velocimex_cli.wire.errors import ApiError

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.deployment import Deployment
    from velocimex_cli.engine.drivers.strategies.deployment_records import DeploymentRecords
    from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits

log = logging.getLogger("vmx.engine.strategies")


class WorkerSupervision:
    """Serves the deployments of `_all` (shared with their `Deployments`) as their workers
    speak: on `loop`, or stepped when `loop` is None."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None,
        limits: StrategyLimits,
        deployments: dict[str, Deployment],
        records: DeploymentRecords,
    ) -> None:
        self.loop = loop
        self.limits = limits
        self._all = deployments
        self.records = records
        self._tick_scheduled = False

    async def run(self) -> None:
        """Loop mode: enforce time budgets and fire timers."""
        interval = max(0.01, min(0.05, self.limits.callback_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                self._tick()
                now = time.monotonic()
                for deployment in list(self._all.values()):
                    deployment.check_deadline(now)
            except Exception:
                log.exception("strategy deployments' housekeeping failed")

    def settle(self, timeout: float | None = None) -> None:
        """Stepped mode: let every deployment handle what happened, waiting for its worker
        (each hook within its budget), until nothing is left to do."""
        for _ in range(10_000):
            self._tick()
            waiting = [d for d in self._all.values() if d.busy is not None]
            if not waiting:
                return
            for deployment in waiting:
                self.wait_sync(deployment, partial(_idle, deployment))

    def wait_sync(self, deployment: Deployment, done: Callable[[], bool]) -> None:
        while not done():
            worker = deployment.worker
            if worker is None:
                return
            remaining = deployment.budget - (time.monotonic() - deployment.busy_since)
            try:
                readable = worker.poll(max(0.0, remaining))
            except (OSError, EOFError):
                readable = True
            if readable:
                deployment.readable()
            else:
                deployment.check_deadline(time.monotonic())

    def shutdown(self) -> None:
        """The engine stops: every running deployment stops (orders canceled), state saved."""
        for deployment in list(self._all.values()):
            if deployment.phase in ("running", "stopping", "starting"):
                deployment.outbox.clear()
                deployment.end(STOPPED, "the engine stopped")
        self.records.save()

    def stop_after_rollback(self, reason: str) -> None:
        """The engine rolled its memory back to what it had stored (engine/node.py): what the
        running deployments were told may not have happened, so each stops at once (failed,
        with `reason`). Canceling their orders would need the storage that failed: they stay
        as stored."""
        stopped = [d for d in self._all.values() if d.phase != "finished"]
        for deployment in stopped:
            if deployment.phase == "starting":
                deployment.worker_lost(reason)
                continue
            with contextlib.suppress(ApiError):  # its orders' cancels are refused
                deployment.crash(reason)
            if deployment.finished is not None and not deployment.finished.done():
                deployment.finished.set_result(None)
        if stopped:
            self.records.save()

    # -- engine events -------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Wake idle deployments (in a later turn, never inside the exchange's delivery). A
        busy one is left alone: its host keeps the events (books coalesced) until it is idle,
        so a strategy costs the engine nothing per event while it works."""
        loop = self.loop
        if loop is None or self._tick_scheduled:
            return
        for deployment in self._all.values():
            if deployment.busy is None and deployment.phase == "running":
                self._tick_scheduled = True
                loop.call_soon(self._tick)
                return

    def _tick(self) -> None:
        self._tick_scheduled = False
        for deployment in list(self._all.values()):
            deployment.pump()

    def watch(self, deployment: Deployment) -> None:
        loop = self.loop
        worker = deployment.worker
        if loop is not None and worker is not None:
            loop.add_reader(worker.fileno(), deployment.readable)

    def unwatch(self, worker: WorkerProcess) -> None:
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(OSError, ValueError):
                loop.remove_reader(worker.fileno())


def _idle(deployment: Deployment) -> bool:
    return deployment.busy is None
