"""Strategy deployments on an engine node: each strategy runs in its own worker process.

The node keeps, per deployment, a `RemoteHost`: the strategies package's `StrategyHost` (event
queueing, timers, order entry tagged `<deployment_id>:<n>`, the deployment's own accounting,
logs) whose strategy is a stand-in that forwards each hook to the worker instead of running
it. The worker runs the real class; every context call it makes comes back over the pipe and
is served by the host's `EngineContext`, so a strategy order takes the same path as a manual
one. What the worker may cost is bounded (see isolation.py): a hook that raises, runs past its
budget, loops forever or exhausts its memory stops that deployment (state `failed`, the reason
in `last_error` and the log) and nothing else. So does a worker that breaks the protocol
(protocol.py: a frame that does not decode into its declared messages, an oversized one, a
message out of turn): nothing it sent is acted on.

Hooks reach the worker one at a time; while it is busy, book changes are conflated (only the
latest top is delivered) and public trades beyond MAX_PENDING_TRADES are dropped (the drop is
logged). Orders and fills of the deployment are never dropped.

On an engine restart, deployments come back stopped (reason: the restart) with their open
orders canceled; nothing trades again until deployed again. Their records, logs and accounting
(rebuilt from the account's fills) stay visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.engine.drivers.strategies import sandbox
from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy
from velocimex_cli.engine.drivers.strategies.event_values import instrument_spec
from velocimex_cli.engine.drivers.strategies.host import (
    COMPLETED,
    CREATED,
    FAILED,
    RUNNING,
    STOPPED,
    StrategyHost,
)
from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
from velocimex_cli.engine.drivers.strategies.params import ParamValues
from velocimex_cli.engine.drivers.strategies.protocol import (
    FROM_CHECK,
    FROM_DEPLOYMENT,
    HOOK_MESSAGES,
    MAX_KNOWN,
    Call,
    DeploySpec,
    Described,
    Done,
    ErrorBody,
    Failed,
    Known,
    ProtocolViolation,
    Raise,
    Ready,
    Reply,
    Request,
    known,
    pack_value,
)
from velocimex_cli.engine.drivers.strategies.registry import StrategyRegistry
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import (
    ApiError,
    InternalError,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.core.events import BookEvent
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.drivers.strategies.context import BookTop
    from velocimex_cli.engine.node import EngineNode, StrategyLimits

log = logging.getLogger("vmx.engine.strategies")

META_KEY = "deployments"
MAX_PENDING_TRADES = 1000
SAVED_LOG_LINES = 200
KEPT_FINISHED = 200  # ended deployments kept (records, logs); older ones are forgotten
STOPPING = "stopping"  # shown while on_stop runs
RESTARTED = "the engine restarted while it ran; its open orders were canceled (deploy it again)"


def error_body(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"error": {"code": str(exc.code), "message": exc.message, "details": exc.details}}
    code = "INVALID_PARAMETER" if isinstance(exc, TypeError | ValueError) else "INTERNAL_ERROR"
    return {"error": {"code": code, "message": f"{type(exc).__name__}: {exc}", "details": {}}}


def remote_strategy(deployment: Deployment, hooks: list[str]) -> type[Strategy]:
    """The node-side stand-in for a strategy running in a worker: the hooks its class
    overrides are queued for the worker, never run here (the host then listens only for
    what those need). Its parameters were validated and checked by the worker already."""

    def forward(hook: str) -> Callable[..., None]:
        def queued(self: Strategy, *args: Any) -> None:
            deployment.enqueue(hook, args)

        queued.__name__ = hook
        return queued

    namespace: dict[str, Any] = {
        "id": deployment.strategy_id,
        "validate": classmethod(lambda cls, params: ParamValues(params or {})),
        "check": classmethod(lambda cls, config, instrument: None),
    }
    for hook in hooks:
        if hook in HOOKS and hook != "on_stop":  # on_stop is sent by the Deployment itself
            namespace[hook] = forward(hook)
    return type("RemoteStrategy", (Strategy,), namespace)


class RemoteHost(StrategyHost):
    """StrategyHost whose stop requests and endings are sequenced by the Deployment, and which
    has the exchange build book events for it only while its worker waits for one.

    While a hook runs in the worker (or the deployment waits for its fair share), the book
    changes it misses would only be coalesced into its next on_book: the host then stops
    asking for book events (building them costs every command that touches a book), and before
    the next hook compares each subscribed book's sequence with the one it last delivered."""

    deployment: Deployment

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._told: dict[tuple[str, str], int] = {}  # book -> sequence of the last on_book
        super().__init__(*args, **kwargs)
        self._hearing_books = "on_book" in self._wants  # as StrategyHost.start listens

    def subscribe(self, instrument: Instrument) -> None:
        super().subscribe(instrument)
        key = (instrument.venue.name, instrument.symbol)
        self._told.setdefault(key, self.exchange.books[instrument.index].sequence)

    def told(self, top: BookTop) -> None:
        """The worker is sent this book (a later one may replace it before it is sent)."""
        self._told[(top.exchange, top.symbol)] = top.sequence

    def hear_books(self, on: bool) -> None:
        """Have the exchange build book events for this host, or not (see the class)."""
        on = on and "on_book" in self._wants
        if on != self._hearing_books and self.state == RUNNING:
            self._hearing_books = on
            self.exchange.restrict_listener(self._listen, self._interest(on))

    def _book_changed(self, event: BookEvent) -> None:
        if event.sequence > self._told.get((event.exchange, event.symbol), -1):
            super()._book_changed(event)  # not a change the worker was sent already

    def step(self) -> int:
        if not self._hearing_books and self.state == RUNNING:
            books, stamp = self.exchange.books, ""
            for key, instrument in self._subscribed.items():
                if books[instrument.index].sequence != self._told[key]:
                    stamp = stamp or iso(self.exchange.clock())
                    self._queue_book(instrument, stamp)
        return super().step()

    def request_stop(self, reason: str) -> None:
        self.deployment.stop_requested = reason or "completed"

    def finish(self, state: str, reason: str) -> None:
        if self.state in (RUNNING, CREATED):
            self._finish(state, reason)

    def fail(self, message: str) -> None:
        self.last_error = message
        self.log(message, "error")
        self.finish(FAILED, message)


class Deployment:
    """One deployment: its host on the node, its worker, the hooks waiting for the worker."""

    def __init__(
        self,
        manager: Deployments,
        deployment_id: str,
        strategy_id: str,
        account: str,
        limits: StrategyLimits,
    ) -> None:
        self.manager = manager
        self.deployment_id = deployment_id
        self.strategy_id = strategy_id
        self.account = account
        self.limits = limits
        self.host: RemoteHost | None = None
        self.worker: WorkerProcess | None = None
        self.phase = "starting"  # starting, running, stopping, finished
        self.outbox: deque[list[Any]] = deque()
        self._pending_books: dict[tuple[str, str], list[Any]] = {}
        self._pending_trades = 0
        self.dropped_trades = 0
        self.busy: str | None = None  # the hook the worker is running
        self.busy_since = 0.0
        self.budget = limits.start_seconds
        self.stop_requested: str | None = None
        self._stopping: tuple[str, str] | None = None
        self.logs: deque[dict[str, Any]] = deque(maxlen=max(1, limits.log_lines))
        self.log_sequence = 0
        self.ready: asyncio.Future[dict[str, Any]] | None = None
        self.finished: asyncio.Future[None] | None = None
        self.start_error: dict[str, Any] | None = None
        self.validated: dict[str, Any] | None = None
        self.hooks: list[str] = []
        self.callbacks = 0  # hooks the worker has finished
        self.reads: dict[str, set[Request]] = {}  # hook -> reads sent with it
        self.paused = 0.0  # of the running hook: seconds spent waiting for the node's answers
        self.awaiting: float | None = None  # when the call now waiting for its answer came
        self._pending_answer: Reply[Any] | Raise | None = None
        self.resume_at = 0.0  # served again from then on (fair share, see charge)
        self._scheduled: asyncio.TimerHandle | None = None
        self._resume_actions: set[str] = set()
        self.record: dict[str, Any] = {}  # what a restored (not running) deployment shows

    # -- logs ----------------------------------------------------------------------------
    def add_log(self, record: dict[str, Any]) -> None:
        self.log_sequence += 1
        self.logs.append({"sequence": self.log_sequence, **record})

    # -- the worker's hooks ---------------------------------------------------------------
    def enqueue(self, hook: str, args: tuple[Any, ...]) -> None:
        if self.phase != "running" or self._stopping is not None:
            return
        if hook == "on_book":
            key = (args[0].exchange, args[0].symbol)
            self.host.told(args[0])  # type: ignore[union-attr]  # running: a host
            pending = self._pending_books.get(key)
            if pending is not None:
                pending[1] = args  # conflate: the worker sees the newest top only
                return
            entry = [hook, args]
            self._pending_books[key] = entry
            self.outbox.append(entry)
        elif hook == "on_trade":
            if self._pending_trades >= MAX_PENDING_TRADES:
                self.dropped_trades += 1
                return
            self._pending_trades += 1
            self.outbox.append([hook, args])
        else:
            self.outbox.append([hook, args])
        self.feed()

    def pump(self) -> None:
        """If the worker is idle: let the host dispatch what it kept (events, due timers),
        then send the first hook."""
        host = self.host
        if host is None or self.busy is not None or self.phase != "running":
            return
        if self._later(self.pump):
            host.hear_books(False)  # the books are read when its turn comes
            return
        started = time.monotonic()
        if not self.outbox and self._stopping is None:
            try:
                host.step()
            except Exception as exc:  # an engine-side fault in one deployment stays there
                log.exception("strategy deployment %s failed", self.deployment_id)
                self.crash(f"engine error while serving it: {type(exc).__name__}: {exc}")
                return
        self.feed()
        if self.busy is None and not self.outbox and self._stopping is None:
            host.hear_books(True)  # nothing to do: wake on the next book change
        self.charge(time.monotonic() - started)

    def feed(self) -> None:
        """Send the worker its next hook if it is idle."""
        if self.busy is not None or self.worker is None or self.phase == "finished":
            return
        if self._stopping is not None:
            if self.phase == "stopping":
                return  # on_stop ran (or could not): finishing
            self.phase = "stopping"
            self._send_hook("on_stop", ())
            return
        if self.dropped_trades:
            dropped, self.dropped_trades = self.dropped_trades, 0
            self.host.log(  # type: ignore[union-attr]  # running: a host
                f"{dropped} public trades were dropped: the strategy fell behind", "warning"
            )
        if not self.outbox:
            return
        hook, args = self.outbox.popleft()
        if hook == "on_book":
            self._pending_books.pop((args[0].exchange, args[0].symbol), None)
        elif hook == "on_trade":
            self._pending_trades -= 1
        self._send_hook(hook, args)

    def _send_hook(self, hook: str, args: tuple[Any, ...]) -> None:
        self.busy = hook
        self.busy_since = time.monotonic()
        self.paused = 0.0
        self.budget = self.limits.callback_seconds
        self.host.hear_books(False)  # type: ignore[union-attr]  # caught up on when it is done
        try:
            message = HOOK_MESSAGES[hook](self._known_reads(hook), *args)
            self.worker.send(message)  # type: ignore[union-attr]  # running: a worker
        except (OSError, ValueError) as exc:
            self.worker_lost(f"its worker process is gone ({exc})")
        except (TypeError, OverflowError) as exc:  # a value the protocol cannot carry
            self._unsendable(hook, exc)

    def _known_reads(self, hook: str) -> list[Known]:
        """The answers, as of now, to the reads the worker made in this hook before its first
        order or cancel last time (see worker.KNOWN_READS)."""
        reads = self.reads.get(hook)
        if not reads:
            return []
        context = self.host.context  # type: ignore[union-attr]  # running: a host
        answers = []
        for read in reads:
            try:
                answers.append(known(read, read.apply(context)))
            except Exception:  # left to the worker, which then gets the error
                continue
        return answers

    def learn(self, hook: str | None, asked: list[Request]) -> None:
        """Remember the reads the worker reports for a hook (the protocol lets only reads
        through, MAX_KNOWN at most; at most MAX_KNOWN are kept per hook)."""
        if hook is None:
            return
        reads = self.reads.setdefault(hook, set())
        for read in asked:
            if len(reads) >= MAX_KNOWN:
                return
            reads.add(read)

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
            self._serve_call(message.request)  # type: ignore[union-attr]  # kind is Call
        elif kind is Done:
            if starting:
                self.violation("it reported a hook done before the strategy was ready")
                return
            hook, self.busy = self.busy, None  # readable then pumps the next hook
            self.callbacks += 1
            self.learn(hook, message.reads)  # type: ignore[union-attr]  # kind is Done
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
            self.validated = message.params  # type: ignore[union-attr]  # kind is Ready
            self.hooks = list(message.hooks)  # type: ignore[union-attr]  # kind is Ready
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
        if self.manager.node.loop is None:  # stepped: no sharing to enforce
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
        loop = self.manager.node.loop
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

    def add_log_text(self, text: str, level: str) -> None:
        if self.host is not None:
            self.host.log(text, level)

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

    def crash(self, message: str) -> None:
        self.stop_worker()
        self.busy = None
        self.outbox.clear()
        self.phase = "finished"
        if self.host is not None:
            self.host.fail(message)
        self._settled()

    def begin_stop(self, state: str, reason: str) -> None:
        """Stop after the running hook: on_stop in the worker, then cancel the open orders."""
        if self.phase in ("finished", "stopping") or self._stopping is not None:
            return
        self._stopping = (state, reason)
        self.outbox.clear()
        self._pending_books.clear()
        self._pending_trades = 0
        if self.worker is None or self.phase == "starting":
            self.end(state, reason)
            return
        self.feed()

    def end(self, state: str, reason: str) -> None:
        self.busy = None
        self.phase = "finished"
        self.stop_worker()
        if self.host is not None:
            self.host.finish(state, reason)
            self.host.log(f"{state}: {reason}", "info")
        self._settled()

    def _settled(self) -> None:
        self.manager.save()
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    def stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            self.manager.unwatch(worker)
            worker.kill()

    # -- views ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        if self.host is None:
            return dict(self.record)
        status = self.host.status()
        if self.phase == "stopping" and status["state"] == RUNNING:
            status["state"] = STOPPING
        status["logs"] = self.log_sequence
        status["callbacks"] = self.callbacks
        return _wire(status)


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


class Deployments:
    """Every deployment of one node, and the strategies it can deploy."""

    def __init__(self, node: EngineNode) -> None:
        self.node = node
        self.limits = node.settings.strategies
        self.registry = StrategyRegistry(node.data_dir)
        self._all: dict[str, Deployment] = {}
        self._next_number = 1
        self._tick_scheduled = False
        self._listening = False
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

    def share_each(self) -> float:
        """Each running deployment's share of the engine's thread (loop mode)."""
        running = sum(1 for d in self._all.values() if d.phase in ("running", "stopping"))
        return self.limits.loop_share / max(1, running)

    # -- lifecycle -----------------------------------------------------------------------
    def restore(self) -> None:
        """Bring back the saved deployments, stopped (see the module's docstring)."""
        exchange = self.node.exchange
        saved = exchange.load_meta(META_KEY)
        if not saved:
            return
        state = jsonfmt.loads(saved)
        self._next_number = int(state.get("next", 1))
        canceled_any = False
        for record in state.get("deployments", []):
            deployment = Deployment(
                self, record["deployment_id"], record["strategy_id"], record["account"],
                self.limits,
            )  # fmt: skip
            deployment.phase = "finished"
            for line in record.get("log", []):
                deployment.logs.append(line)
                deployment.log_sequence = max(deployment.log_sequence, line.get("sequence", 0))
            record = {k: v for k, v in record.items() if k != "log"}
            if record.get("state") in (RUNNING, CREATED, STOPPING):
                record["state"] = STOPPED
                record["stop_reason"] = RESTARTED
                record["stopped_at"] = iso(exchange.clock())
                canceled_any |= self._cancel_orders_of(deployment) > 0
                deployment.logs.append(
                    {
                        "sequence": deployment.log_sequence + 1,
                        "timestamp": iso(exchange.clock()),
                        "level": "warning",
                        "message": f"stopped: {RESTARTED}",
                    }
                )
                deployment.log_sequence += 1
            record.update(self._accounting_from_fills(deployment))
            record["open_orders"] = 0
            record["logs"] = deployment.log_sequence
            deployment.record = record
            self._all[deployment.deployment_id] = deployment
        self.save()
        if canceled_any:
            log.warning("strategy deployments were stopped by the restart; open orders canceled")

    def _cancel_orders_of(self, deployment: Deployment) -> int:
        exchange = self.node.exchange
        account = exchange.ledger.accounts.get(deployment.account)
        if account is None:
            return 0
        prefix = deployment.deployment_id + ":"
        count = 0
        for order in list(account.orders.values()):
            if order.is_live and (order.client_id or "").startswith(prefix):
                exchange.cancel_order(deployment.account, str(order.id))
                count += 1
        return count

    def _accounting_from_fills(self, deployment: Deployment) -> dict[str, Any]:
        from velocimex_cli.engine.core.exchange import fill_wire
        from velocimex_cli.engine.drivers.strategies.tally import Tally

        exchange = self.node.exchange
        tally = Tally()
        account = exchange.ledger.accounts.get(deployment.account)
        prefix = deployment.deployment_id + ":"
        if account is not None:
            tally.orders = sum(
                1 for o in account.orders.values() if (o.client_id or "").startswith(prefix)
            )
            for record in account.fills:
                if (record.order.client_id or "").startswith(prefix):
                    tally.add_fill(record.order.instrument, fill_wire(record))
        return _wire(tally.summary(exchange))

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
                self._wait_sync(deployment, lambda d=deployment: d.busy is None)

    def _wait_sync(self, deployment: Deployment, done: Callable[[], bool]) -> None:
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

    def kill_workers(self) -> None:
        """End every worker at once, leaving the deployments' records as they are: what a
        crash of the engine does (tests use it to check what a restart then shows)."""
        for deployment in self._all.values():
            deployment.stop_worker()

    def shutdown(self) -> None:
        """The engine stops: every running deployment stops (orders canceled), state saved."""
        for deployment in list(self._all.values()):
            if deployment.phase in ("running", "stopping", "starting"):
                deployment.outbox.clear()
                deployment.end(STOPPED, "the engine stopped")
        self.save()

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
            self.save()

    # -- engine events -------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        """Wake idle deployments (in a later turn, never inside the exchange's delivery). A
        busy one is left alone: its host keeps the events (books coalesced) until it is idle,
        so a strategy costs the engine nothing per event while it works."""
        loop = self.node.loop
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
        loop = self.node.loop
        worker = deployment.worker
        if loop is not None and worker is not None:
            loop.add_reader(worker.fileno(), deployment.readable)

    def unwatch(self, worker: WorkerProcess) -> None:
        loop = self.node.loop
        if loop is not None:
            with contextlib.suppress(OSError, ValueError):
                loop.remove_reader(worker.fileno())

    # -- deploying -----------------------------------------------------------------------
    def _new(self, strategy_id: str, account: str) -> Deployment:
        deployment_id = f"dep-{self._next_number}"
        self._next_number += 1
        deployment = Deployment(self, deployment_id, strategy_id, account, self.limits)
        deployment.host = None
        deployment.logs = deque(maxlen=max(1, self.limits.log_lines))
        return deployment

    def _spawn(
        self, deployment: Deployment, params: Mapping[str, Any], exchange: str, symbol: str
    ) -> None:
        from velocimex_cli.engine.drivers.strategies.worker import run_worker

        spec = DeploySpec(
            deployment_id=deployment.deployment_id,
            strategy_id=deployment.strategy_id,
            source=self.registry.source_of(deployment.account, deployment.strategy_id),
            params=pack_value(dict(params)),
            instrument=instrument_spec(self.node.exchange.catalogue.find(exchange, symbol)),
        )
        deployment.worker = WorkerProcess(
            run_worker,
            (spec, self.limits.memory_bytes),
            **self.worker_options(self.limits.cpu_seconds),
        )
        deployment.busy = "__init__"
        deployment.busy_since = time.monotonic()
        deployment.budget = self.limits.start_seconds

    def _check_request(
        self, account: str, strategy_id: str, exchange: object, symbol: object, params: object
    ) -> None:
        self.registry.get(account, strategy_id)  # a built-in or the account's own
        active = sum(1 for d in self._all.values() if d.phase != "finished")
        if active >= self.limits.max_running:
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"at most {self.limits.max_running} deployments run at once on this engine; "
                "stop one first (vmx strategy status, vmx strategy stop)",
                limit=self.limits.max_running,
            )
        if not isinstance(exchange, str) or not isinstance(symbol, str):
            raise InvalidParameter(
                "exchange" if not isinstance(exchange, str) else "symbol",
                exchange if not isinstance(exchange, str) else symbol,
                "exchange and symbol are required, e.g. BINANCE and BTC/USDT",
            )
        self.node.exchange.instrument(exchange, symbol)
        if params is not None and not isinstance(params, dict):
            raise InvalidParameter("params", params, "params must be an object of name: value")

    def _launch(self, deployment: Deployment, exchange: str, symbol: str) -> dict[str, Any]:
        """After the worker is ready: the host, on_start, and the first hooks."""
        if deployment.start_error is not None:
            raise _error_from(deployment.start_error)
        params = deployment.validated or {}
        stand_in = remote_strategy(deployment, deployment.hooks)
        try:
            host = RemoteHost(
                self.node.exchange,
                stand_in,
                deployment_id=deployment.deployment_id,
                account=deployment.account,
                exchange_name=exchange,
                symbol=symbol,
                params=params,
                log_sink=deployment.add_log,
                max_log_lines=self.limits.log_lines,
            )
        except BaseException:
            deployment.stop_worker()
            raise
        host.deployment = deployment
        deployment.host = host
        deployment.phase = "running"
        self._all[deployment.deployment_id] = deployment
        if not self._listening:
            # A wake-up call only: it needs nothing built for itself.
            self.node.exchange.add_listener(
                self._on_event, Interest(accounts=frozenset(), books=False)
            )
            self._listening = True
        host.log(f"deployed on {exchange}:{symbol} with {jsonfmt.dumps(params)}", "info")
        host.start()
        deployment.feed()
        self.save()
        return deployment.status()

    async def deploy(
        self,
        account: str,
        strategy_id: str,
        exchange: object,
        symbol: object,
        params: object,
        permissions: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Loop mode: start a worker, wait (without blocking matching) until it is ready.
        `permissions`: the caller's key's (None: the engine's own caller)."""
        self._check_request(account, strategy_id, exchange, symbol, params)
        await asyncio.to_thread(self.confinement_problem)  # the first call probes: off the loop
        warning = self._unconfined_warning(strategy_id, permissions)
        deployment = self._new(strategy_id, account)
        loop = asyncio.get_running_loop()
        deployment.ready = loop.create_future()
        self._spawn(deployment, params or {}, exchange, symbol)  # type: ignore[arg-type]  # checked: both given
        self.watch(deployment)
        starting = self._all.setdefault(deployment.deployment_id, deployment)
        try:
            await deployment.ready
        finally:
            if deployment.phase == "starting":
                self._all.pop(starting.deployment_id, None)
        launched = self._launch(deployment, exchange, symbol)  # type: ignore[arg-type]  # checked: both given
        return self._warn(deployment, warning) if warning else launched

    def _unconfined_warning(
        self, strategy_id: str, permissions: Collection[str] | None
    ) -> str | None:
        if self.registry.is_builtin(strategy_id):
            return None  # code shipped with vmx
        return self.admit_user_code(permissions)

    def _warn(self, deployment: Deployment, warning: str) -> dict[str, Any]:
        """Every deploy of unconfined user code says so: in its log and in the answer."""
        deployment.add_log_text(warning, "warning")
        status = deployment.status()
        status["warnings"] = [warning]
        return status

    def deploy_now(
        self,
        account: str,
        strategy_id: str,
        exchange: object,
        symbol: object,
        params: object,
        permissions: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Stepped mode: the same, waiting for the worker synchronously."""
        self._check_request(account, strategy_id, exchange, symbol, params)
        warning = self._unconfined_warning(strategy_id, permissions)
        deployment = self._new(strategy_id, account)
        self._spawn(deployment, params or {}, exchange, symbol)  # type: ignore[arg-type]  # checked: both given
        self._wait_sync(
            deployment, lambda: deployment.validated is not None or deployment.worker is None
        )
        if deployment.start_error is None and deployment.validated is None:
            deployment.start_error = error_body(InternalError("the strategy did not start"))
        self._launch(deployment, exchange, symbol)  # type: ignore[arg-type]  # checked: both given
        self.settle()
        if warning:
            return self._warn(deployment, warning)
        return self.get(deployment.deployment_id)

    # -- views and control ---------------------------------------------------------------
    def _find(self, deployment_id: str, account: str | None) -> Deployment:
        deployment = self._all.get(deployment_id)
        if (
            deployment is None
            or deployment.phase == "starting"
            or (account is not None and deployment.account != account)
        ):
            raise NotFound(
                f"Unknown deployment {deployment_id!r}; list them with "
                "GET /v1/strategies/deployments",
                {"deployment_id": deployment_id},
            )
        return deployment

    def get(self, deployment_id: str, account: str | None = None) -> dict[str, Any]:
        return self._find(deployment_id, account).status()

    def list(self, account: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        found = []
        for deployment in self._all.values():
            if deployment.phase == "starting":
                continue
            if account is not None and deployment.account != account:
                continue
            status = deployment.status()
            if state is not None and status["state"] != state:
                continue
            found.append(status)
        return found

    def logs(
        self, deployment_id: str, account: str | None = None, since: int = 0, limit: int = 1000
    ) -> dict[str, Any]:
        deployment = self._find(deployment_id, account)
        lines = [line for line in deployment.logs if line["sequence"] > since][:limit]
        last = lines[-1]["sequence"] if lines else max(since, 0)
        return {
            "deployment_id": deployment_id,
            "state": deployment.status()["state"],
            "logs": lines,
            "next_since": last,
        }

    def request_stop(self, deployment_id: str, account: str | None = None) -> Deployment:
        deployment = self._find(deployment_id, account)
        if deployment.phase == "running":
            loop = self.node.loop
            if loop is not None and deployment.finished is None:
                deployment.finished = loop.create_future()
            deployment.begin_stop(STOPPED, "stopped by user")
        return deployment

    async def stop(self, deployment_id: str, account: str | None = None) -> dict[str, Any]:
        deployment = self.request_stop(deployment_id, account)
        if deployment.finished is not None and not deployment.finished.done():
            # on_stop's budget, then the watchdog kills the worker: this always ends.
            await asyncio.wait_for(
                asyncio.shield(deployment.finished), self.limits.callback_seconds + 5
            )
        return deployment.status()

    def stop_now(self, deployment_id: str, account: str | None = None) -> dict[str, Any]:
        deployment = self.request_stop(deployment_id, account)
        self._wait_sync(deployment, lambda: deployment.phase == "finished")
        return deployment.status()

    # -- user strategies -----------------------------------------------------------------
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

    def add_strategy(
        self, source: str, described: dict[str, Any], replace: bool, *, account: str
    ) -> dict[str, Any]:
        """Keep `account`'s checked user strategy (see StrategyRegistry.add)."""
        strategy_id = described.get("strategy_id")
        running = self.running_of(strategy_id, account) if isinstance(strategy_id, str) else []
        if replace and running:
            raise InvalidParameter(
                "strategy_id", strategy_id,
                f"{strategy_id!r} has running deployments ({', '.join(running)}); stop them first",
            )  # fmt: skip
        return self.registry.add(account, source, described, replace=replace)

    def remove_strategy(self, strategy_id: str, *, account: str) -> dict[str, Any]:
        running = self.running_of(strategy_id, account)
        if running and not self.registry.is_builtin(strategy_id):
            raise InvalidParameter(
                "strategy_id", strategy_id,
                f"{strategy_id!r} has running deployments ({', '.join(running)}); stop them first",
            )  # fmt: skip
        return self.registry.remove(account, strategy_id)

    def running_of(self, strategy_id: str, account: str) -> list[str]:
        """`account`'s deployments of its strategy `strategy_id` that have not ended."""
        return [
            d.deployment_id
            for d in self._all.values()
            if d.strategy_id == strategy_id
            and d.account == account
            and d.phase in ("starting", "running", "stopping")
        ]

    # -- persistence ---------------------------------------------------------------------
    def save(self) -> None:
        finished = [key for key, d in self._all.items() if d.phase == "finished"]
        for key in finished[: max(0, len(finished) - KEPT_FINISHED)]:
            del self._all[key]  # the oldest ended deployments beyond the kept number
        records = []
        for deployment in self._all.values():
            if deployment.phase == "starting":
                continue
            status = deployment.status()
            for key in ("positions", "volume", "fees", "realized_pnl", "unrealized_pnl"):
                status.pop(key, None)
            status["log"] = list(deployment.logs)[-SAVED_LOG_LINES:]
            records.append(status)
        state = {"next": self._next_number, "deployments": records}
        try:
            self.node.exchange.save_meta(META_KEY, jsonfmt.dumps(state))
        except Exception:
            log.exception("could not save the strategy deployments")


def _check_violation(name: str, why: str) -> InvalidParameter:
    log.warning("the upload check of %s broke the worker protocol: %s", name, why)
    return InvalidParameter(
        "source",
        name,
        f"{name}: refused: loading the file broke the worker protocol ({why}); a strategy "
        "must not write to its worker's socket",
    )


def _error_from(body: dict[str, Any]) -> ApiError:
    from velocimex_cli.wire.errors import error_from_body

    return error_from_body(body)
