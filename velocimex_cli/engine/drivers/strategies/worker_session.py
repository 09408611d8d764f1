"""A deployment's side of the conversation with its worker process: reading what the worker
sends, serving its context calls, answering in turn, the fair share of the engine's thread,
time budgets and a worker that is lost.

The worker sends one message, then waits for the node; every byte it sends is decoded by the
protocol's declared messages (protocol.py). A frame that does not decode, an oversized one or a
message out of turn is a protocol violation: the worker is killed, the deployment fails (or its
start does), and nothing it sent is acted on. A hook that runs past its budget, or a worker
that dies (its memory or CPU limit, isolation.py), ends the deployment the same way.

`WorkerSession` is the base of `Deployment` (deployment.py), which owns the state both use and
the lifecycle this ends in (crash, end, begin_stop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from velocimex_cli.engine.drivers.strategies.host import COMPLETED, STOPPED
from velocimex_cli.engine.drivers.strategies.protocol import (
    FROM_DEPLOYMENT,
    Call,
    Done,
    ErrorBody,
    Failed,
    ProtocolViolation,
    Raise,
    Ready,
    Reply,
    Request,
)
from velocimex_cli.wire.errors import ApiError, InternalError, InvalidParameter

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits
    from velocimex_cli.engine.drivers.strategies.remote_host import RemoteHost

log = logging.getLogger("vmx.engine.strategies")


class Manager(Protocol):
    """What a deployment needs of the deployments it belongs to (deployments.Deployments)."""

    loop: asyncio.AbstractEventLoop | None  # None: a stepped node

    def share_each(self) -> float: ...

    def save(self) -> None: ...

    def unwatch(self, worker: WorkerProcess) -> None: ...


def error_body(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"error": {"code": str(exc.code), "message": exc.message, "details": exc.details}}
    code = "INVALID_PARAMETER" if isinstance(exc, TypeError | ValueError) else "INTERNAL_ERROR"
    return {"error": {"code": code, "message": f"{type(exc).__name__}: {exc}", "details": {}}}


class WorkerSession:
    """The worker-facing half of a `Deployment` (see the module's docstring)."""

    manager: Manager
    deployment_id: str
    strategy_id: str
    limits: StrategyLimits
    host: RemoteHost | None
    worker: WorkerProcess | None
    phase: str
    busy: str | None
    busy_since: float
    budget: float
    stop_requested: str | None
    _stopping: tuple[str, str] | None
    ready: asyncio.Future[dict[str, Any]] | None
    start_error: dict[str, Any] | None
    validated: dict[str, Any] | None
    hooks: list[str]
    callbacks: int
    paused: float
    awaiting: float | None
    _pending_answer: Reply[Any] | Raise | None
    resume_at: float
    _scheduled: asyncio.TimerHandle | None
    _resume_actions: set[str]

    # -- the lifecycle it ends in (deployment.py) -------------------------------------------
    def pump(self) -> None:
        raise NotImplementedError

    def learn(self, hook: str | None, asked: list[Request]) -> None:
        raise NotImplementedError

    def crash(self, message: str) -> None:
        raise NotImplementedError

    def begin_stop(self, state: str, reason: str) -> None:
        raise NotImplementedError

    def end(self, state: str, reason: str) -> None:
        raise NotImplementedError

    def stop_worker(self) -> None:
        raise NotImplementedError

    def add_log_text(self, text: str, level: str) -> None:
        raise NotImplementedError

    # -- messages from the worker ---------------------------------------------------------
    def readable(self) -> None:
        """Serve what the worker sent: what one read brought, then the answer and, once its
        hook is done, the next hook. The worker sends one message, then waits for the node:
        a message when none is awaited (or a second one behind the first) is out of turn."""
        worker = self.worker
        if worker is None:
            return
        started = time.monotonic()
        channel = worker.channel
        try:
            channel.fill()
        except OSError:
            self.worker_lost(f"its worker process {worker.exit_description_after(1.0)}")
            return
        if channel.pending or channel.broken:
            if not self.awaits_worker:
                self.violation("it sent a message while none was awaited")
                return
            try:
                message = channel.receive(FROM_DEPLOYMENT)
            except ProtocolViolation as exc:
                self.violation(str(exc))
                return
            if channel.buffered or channel.broken:
                self.violation(
                    f"it sent more after its {type(message).__name__.lower()} message "
                    "without waiting for the engine"
                )
                return
            self.handle(message)
        elif channel.buffered and not self.awaits_worker:
            self.violation("it sent bytes while no message was awaited")
            return
        if self.worker is worker and channel.ended:
            self.worker_lost(f"its worker process {worker.exit_description_after(1.0)}")
            return
        self.charge(time.monotonic() - started)
        self._answer()
        self.pump()  # charges itself

    @property
    def awaits_worker(self) -> bool:
        """The worker may send now: it is starting or running a hook, and no call of its own
        is waiting for the node's answer."""
        return self.busy is not None and self._pending_answer is None

    def handle(self, message: Ready | Call | Done | Failed) -> None:
        kind = type(message)
        starting = self.phase == "starting"
        if kind is Call:
            self._serve_call(message.request)  # type: ignore[union-attr]  # its kind was tested above
        elif kind is Done:
            if starting:
                self.violation("it reported a hook done before the strategy was ready")
                return
            hook, self.busy = self.busy, None  # readable then pumps the next hook
            self.callbacks += 1
            self.learn(hook, message.reads)  # type: ignore[union-attr]  # its kind was tested above
            if hook == "on_stop":
                self.end(*(self._stopping or (STOPPED, "stopped")))
                return
            if self.stop_requested is not None and self._stopping is None:
                reason, self.stop_requested = self.stop_requested, None
                self.begin_stop(COMPLETED, reason)
        elif kind is Ready:
            if not starting:
                self.violation("it reported ready while the strategy was running")
                return
            self.busy = None
            self.validated = message.params  # type: ignore[union-attr]  # its kind was tested above
            self.hooks = list(message.hooks)  # type: ignore[union-attr]  # its kind was tested above
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(self.validated)
        else:  # Failed
            failed: Failed = message  # type: ignore[assignment]  # the one kind left
            hook, self.busy = self.busy, None
            if starting:
                self.start_error = failed.error.body() if failed.error is not None else None
                if self.start_error is None:
                    error = {"code": "INVALID_PARAMETER", "message": failed.message, "details": {}}
                    self.start_error = {"error": error}
                self.stop_worker()
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result({})
                return
            if failed.traceback:
                self.add_log_text(failed.traceback, "error")
            self.crash(f"{hook}: {failed.message}")

    def violation(self, why: str) -> None:
        """The worker broke the protocol: kill it and fail the deployment (or its start),
        saying what it sent; nothing it sent is acted on."""
        if self.phase == "finished":
            return
        message = f"protocol violation: {why}; the worker was killed"
        log.warning("strategy deployment %s: %s", self.deployment_id, message)
        if self.phase == "starting":
            self.stop_worker()
            self.busy = None
            self.start_error = error_body(
                InvalidParameter(
                    "strategy_id",
                    self.strategy_id,
                    f"strategy {self.strategy_id!r} could not start: {message}",
                )
            )
            if self.ready is not None and not self.ready.done():
                self.ready.set_result({})
            return
        hook = self.busy
        self.crash(f"{hook}: {message}" if hook else message)

    def _serve_call(self, request: Request) -> None:
        arrived = time.monotonic()
        host = self.host
        answer: Reply[Any] | Raise
        try:
            if host is None:
                method = type(request).__struct_config__.tag
                raise InvalidParameter(
                    "context", method, "the context is usable from on_start on, not in __init__"
                )
            answer = Reply(request.apply(host.context))
        except Exception as exc:
            answer = Raise(ErrorBody.of_exception(exc))
        self.awaiting = arrived
        self._pending_answer = answer
        if self.manager.loop is None:  # stepped: no sharing to enforce
            self._answer()

    # Fair share of the engine's thread. Every piece of the thread's time a deployment
    # causes (reading its messages, serving its calls, sending it hooks and answers,
    # dispatching its events) is charged to it: after costing c seconds it is served again
    # only c x (1 - share) / share later, so strategies together take at most `share` of the
    # thread that matches everyone's orders. Waiting for answers does not count against a
    # strategy's own time budget.
    def charge(self, cost: float) -> None:
        share = self.manager.share_each()
        if share < 1:
            self.resume_at = max(self.resume_at, time.monotonic()) + cost * (1 - share) / share

    def _later(self, action: Callable[[], None]) -> bool:
        """Run `action` at resume_at instead of now if the deployment is in debt."""
        loop = self.manager.loop
        wait = self.resume_at - time.monotonic()
        if loop is None or wait <= 0:
            return False
        if self._scheduled is None or self._scheduled.cancelled():
            self._scheduled = loop.call_later(wait, self._resume)
        self._resume_actions.add(action.__name__)
        return True

    def _resume(self) -> None:
        self._scheduled = None
        actions, self._resume_actions = self._resume_actions, set()
        if "_answer" in actions:
            self._answer()
        if "pump" in actions:
            self.pump()

    def _answer(self) -> None:
        answer = self._pending_answer
        if answer is None or self._later(self._answer):
            return
        self._pending_answer = None
        if self.awaiting is not None:
            self.paused += time.monotonic() - self.awaiting
            self.awaiting = None
        worker = self.worker
        if worker is None:
            return
        started = time.monotonic()
        try:
            worker.send(answer)
        except (OSError, ValueError) as exc:
            self.worker_lost(f"its worker process is gone ({exc})")
            return
        except (TypeError, OverflowError) as exc:  # a value the protocol cannot carry
            self._unsendable("the answer to its call", exc)
            return
        self.charge(time.monotonic() - started)

    def _unsendable(self, what: str, exc: Exception) -> None:
        """A value the engine gave could not be encoded: the engine's fault, this deployment's
        end."""
        log.error("strategy deployment %s: %s could not be encoded", self.deployment_id, what,
                  exc_info=exc)  # fmt: skip
        self.crash(f"engine error while serving it: {what} could not be sent ({exc})")

    def own_time(self, now: float) -> float:
        """Seconds the running hook has taken, not counting waits for the node's answers."""
        waiting = now - self.awaiting if self.awaiting is not None else 0.0
        return now - self.busy_since - self.paused - waiting

    # -- endings -------------------------------------------------------------------------
    def check_deadline(self, now: float) -> None:
        if self.busy is not None and self.own_time(now) > self.budget:
            hook = self.busy
            if self.phase == "starting":
                self.start_error = error_body(
                    InvalidParameter(
                        "strategy_id",
                        self.strategy_id,
                        f"the strategy did not start within {self.budget:g} s",
                    )
                )
                self.stop_worker()
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result({})
                return
            self.stop_worker()
            self.busy = None
            if hook == "on_stop":
                self.end(*(self._stopping or (STOPPED, "stopped")))
                self.add_log_text(
                    f"on_stop ran past its {self.budget:g} s budget; the worker was killed",
                    "warning",
                )
                return
            self.crash(f"{hook} ran past its {self.budget:g} s time budget; the worker was killed")

    def worker_lost(self, why: str) -> None:
        if self.phase == "finished":
            return
        self.stop_worker()
        hook, self.busy = self.busy, None
        if self.phase == "starting":
            self.start_error = error_body(
                InternalError(f"strategy {self.strategy_id!r} could not start: {why}")
            )
            if self.ready is not None and not self.ready.done():
                self.ready.set_result({})
            return
        if hook == "on_stop" and self._stopping is not None:
            self.end(*self._stopping)
            return
        where = f"{hook}: " if hook else ""
        limits = f"memory limit {self.limits.memory_bytes // 2**20} MiB"
        if "CPU time" in why:
            limits = f"CPU time limit {self.limits.cpu_seconds:g} s"
        self.crash(f"{where}{why} ({limits})")
