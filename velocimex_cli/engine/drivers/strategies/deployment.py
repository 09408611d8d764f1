"""One strategy deployment's lifecycle: starting, running, stopping, finished.

The node keeps, per deployment, a `RemoteHost` (remote_host.py) whose strategy forwards each
hook here; the worker runs the real class, and every context call it makes comes back over the
pipe and is served by the host's `EngineContext` (worker_session.py), so a strategy order takes
the same path as a manual one. What the worker may cost is bounded (see isolation.py): a hook
that raises, runs past its budget, loops forever or exhausts its memory stops that deployment
(state `failed`, the reason in `last_error` and the log) and nothing else.

Hooks reach the worker one at a time; while it is busy, book changes are conflated (only the
latest top is delivered) and public trades beyond MAX_PENDING_TRADES are dropped (the drop is
logged). Orders and fills of the deployment are never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.drivers.strategies.host import RUNNING
from velocimex_cli.engine.drivers.strategies.protocol import (
    HOOK_MESSAGES,
    MAX_KNOWN,
    Known,
    Raise,
    Reply,
    Request,
    known,
)
from velocimex_cli.engine.drivers.strategies.worker_session import Manager, WorkerSession
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits
    from velocimex_cli.engine.drivers.strategies.remote_host import RemoteHost

log = logging.getLogger("vmx.engine.strategies")

MAX_PENDING_TRADES = 1000
STOPPING = "stopping"  # shown while on_stop runs


class Deployment(WorkerSession):
    """One deployment: its host on the node, its worker, the hooks waiting for the worker."""

    def __init__(
        self,
        manager: Manager,
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
            self.host.told(args[0])  # type: ignore[union-attr]  # the host exists once started
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
            self.host.log(  # type: ignore[union-attr]  # the host exists once started
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
            self.worker.send(message)  # type: ignore[union-attr]  # the host exists once started
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
        context = self.host.context  # type: ignore[union-attr]  # the host exists once started
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

    def add_log_text(self, text: str, level: str) -> None:
        if self.host is not None:
            self.host.log(text, level)

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
