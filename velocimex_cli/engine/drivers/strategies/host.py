"""Run one strategy in-process against an `Exchange`, deterministically, step by step.

`StrategyHost` is what a backtest drives and what the node's worker wraps. It listens to the
exchange's events, but never acts inside a listener: an event is only queued there (an
exchange delivers events while it finishes a command, and an order placed from inside that
delivery would reach other listeners, such as the WebSocket hub, before the events that caused
it). `step()` then dispatches the queue to the strategy's hooks, fires the timers the
injected clock has passed, and dispatches what those caused. The same events, clock and
parameters always give the same calls in the same order.

Orders go through `Exchange.place_order`, the entry the REST API uses (same validation,
ledger, fees and risk checks), on the deploying account, tagged with the client_order_id
`<deployment_id>:<n>`.

`place(request)` and `cancel(order_id)` are the host's whole order entry: a backtest that
models order latency overrides them to hold requests until the simulated clock reaches their
arrival, as the node's worker host overrides how stops are sequenced.

Reusable for a host in another process: `Timers` (timers.py), `Tally` (tally.py) and the
converters of event_values.py.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from velocimex_cli.engine.core.clocks import MicrosClock
from velocimex_cli.engine.core.events import BookEvent, Event, FillEvent, OrderEvent, TradeEvent
from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.engine.core.views import order_wire
from velocimex_cli.engine.drivers.strategies.base import HOOKS, Strategy
from velocimex_cli.engine.drivers.strategies.context import (
    LOG_LEVELS,
    OrderInfo,
    client_order_id_for,
)
from velocimex_cli.engine.drivers.strategies.engine_context import EngineContext, LocalContext
from velocimex_cli.engine.drivers.strategies.event_values import (
    book_top,
    fill_info,
    instrument_spec,
    order_info,
    trade_tick,
)
from velocimex_cli.engine.drivers.strategies.tally import Tally
from velocimex_cli.engine.drivers.strategies.timers import Timers
from velocimex_cli.wire.errors import InvalidParameter, NotFound, OrderNotOpen
from velocimex_cli.wire.timefmt import iso, iso_from_micros, to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.orders import Order
    from velocimex_cli.engine.drivers.strategies.context import StrategyContext

# Deployment states.
CREATED, RUNNING, COMPLETED, STOPPED, FAILED = (
    "created",
    "running",
    "completed",
    "stopped",
    "failed",
)
STATES = (CREATED, RUNNING, COMPLETED, STOPPED, FAILED)
MAX_LOG_MESSAGE = 2000
MAX_EVENTS_PER_STEP = 100_000  # a strategy that feeds itself events forever yields each step

LogSink = Callable[[dict[str, Any]], None]
# A queued event: a trade, an order event, a fill's dict, or a book change's (instrument,
# ISO timestamp).
Queued = TradeEvent | OrderEvent | dict[str, Any] | tuple["Instrument", str]


class StrategyHost:
    """One deployment of one strategy class, in-process. Not thread-safe: call it from the
    thread that runs the exchange's commands."""

    def __init__(
        self,
        exchange: Exchange,
        strategy_cls: type[Strategy],
        *,
        deployment_id: str,
        account: str,
        exchange_name: str,
        symbol: str,
        params: Mapping[str, Any] | None = None,
        log_sink: LogSink | None = None,
        max_log_lines: int = 1000,
    ) -> None:
        if not isinstance(deployment_id, str) or not 1 <= len(deployment_id) <= 40:
            raise InvalidParameter(
                "deployment_id", deployment_id, "a deployment id must be 1-40 characters"
            )
        self.exchange = exchange
        # A clock that keeps its microseconds (a backtest's): read them, not its datetime.
        clock = exchange.clock
        self._micros_clock = clock if isinstance(clock, MicrosClock) else None
        self.strategy_cls = strategy_cls
        self.deployment_id = deployment_id
        self.account = account
        if not exchange.has_account(account):
            raise NotFound(f"Unknown account {account!r}", {"account": account})
        self.instrument = exchange.catalogue.find(exchange_name, symbol)
        self.params = strategy_cls.validate(params)
        check = getattr(strategy_cls, "check", None)  # a stand-in class may have none
        if check is not None:  # at deploy time: a bad value is an error, not a failed run
            check(self.params, instrument_spec(self.instrument))
        self.state = CREATED
        self.stop_reason: str | None = None
        self.last_error: str | None = None
        self.started_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.timers = Timers()
        self.tally = Tally()
        self.logs: deque[dict[str, Any]] = deque(maxlen=max(1, max_log_lines))
        self._log_sink = log_sink
        self._prefix = f"{deployment_id}:"
        self._sequence = self._last_sequence()
        self._orders: dict[int, Order] = {}
        self._subscribed: dict[tuple[str, str], Instrument] = {}
        self._subscribed_indexes: set[int] = set()  # theirs, for the trades (by index)
        self._book_pending: set[int] = set()
        # What `step` dispatches, each entry the value its type says (see `_dispatch`).
        self._queue: deque[Queued] = deque()
        self._stop_requested: str | None = None
        # The hooks the class overrides: events for the others are not even queued.
        self._wants = frozenset(
            hook for hook in HOOKS if getattr(strategy_cls, hook) is not getattr(Strategy, hook)
        )
        # The same as flags: `_listen` reads them for every event the exchange delivers.
        self._on_trade = "on_trade" in self._wants
        self._on_book = "on_book" in self._wants
        self._on_order = "on_order" in self._wants
        self._on_fill = "on_fill" in self._wants
        self.subscribe(self.instrument)
        self.context = LocalContext(deployment_id, EngineContext(self))
        self.strategy: Strategy | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Build the strategy, attach to the exchange and call on_start."""
        if self.state != CREATED:
            raise InvalidParameter("state", self.state, "a deployment starts only once")
        self.state = RUNNING
        self.started_at = self.exchange.clock()
        # Only what this host reads is built: its account's orders and fills, trades when the
        # strategy has an on_trade, and book events when it has an on_book.
        self.exchange.add_listener(self._listen, self._interest("on_book" in self._wants))
        try:
            # The context's methods are generated from OPERATIONS, so a checker cannot see them;
            # tests/engine/drivers/strategies check that they are StrategyContext's, one by one.
            context = cast("StrategyContext", self.context)
            self.strategy = self.strategy_cls(context, self.params)
        except (Exception, SystemExit) as exc:
            self._fail("__init__", exc)
            return
        self._call(self.strategy.on_start)
        self._dispatch()

    def step(self) -> int:
        """Dispatch the queued events, fire the timers the clock has passed, dispatch what
        they caused. Returns how many events and timers were handled."""
        if self.state != RUNNING:
            return 0
        handled = self._dispatch() if self._queue else 0  # most steps of a backtest: nothing
        if self.timers.next_due is not None and self.state == RUNNING:
            handled += self._fire_timers()
        return handled

    def _fire_timers(self) -> int:
        """`step`'s second half: the timers the clock has passed, then what they caused."""
        handled = 0
        for name in self.timers.pop_due(self.now_micros()):
            if self.state != RUNNING:
                break
            handled += 1
            self._call(self.strategy.on_timer, name)  # type: ignore[union-attr]  # running: loaded
        if self._queue:
            handled += self._dispatch()
        return handled

    def stop(self, reason: str = "stopped by user") -> None:
        """on_stop, then cancel the deployment's open orders and detach."""
        if self.state in (STOPPED, COMPLETED, FAILED):
            return
        if self.state == RUNNING and self.strategy is not None:
            self._call(self.strategy.on_stop, stopping=True)
        if self.state in (CREATED, RUNNING):
            self._finish(STOPPED, reason)

    def request_stop(self, reason: str) -> None:
        self._stop_requested = reason or "completed"

    def now_micros(self) -> int:
        """The exchange's clock in microseconds (a backtest's without building its datetime)."""
        source = self._micros_clock
        return source.micros if source is not None else to_micros(self.exchange.clock())

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def status(self) -> dict[str, Any]:
        """The deployment's state and accounting, JSON-ready."""
        return {
            "deployment_id": self.deployment_id,
            "strategy_id": self.strategy_cls.id,
            "exchange": self.instrument.venue.name,
            "symbol": self.instrument.symbol,
            "account": self.account,
            "state": self.state,
            "params": self.params.to_json(),
            "open_orders": sum(1 for _ in self.live_orders()),
            "started_at": None if self.started_at is None else iso(self.started_at),
            "stopped_at": None if self.stopped_at is None else iso(self.stopped_at),
            "stop_reason": self.stop_reason,
            "last_error": self.last_error,
            **self.tally.summary(self.exchange),
        }

    # -- engine side -------------------------------------------------------------------------
    def subscribe(self, instrument: Instrument) -> None:
        self._subscribed[(instrument.venue.name, instrument.symbol)] = instrument
        self._subscribed_indexes.add(instrument.index)

    def _interest(self, books: bool) -> Interest:
        return Interest(
            accounts=frozenset({self.account}), books=books, trades="on_trade" in self._wants
        )

    def _listen(self, event: Event) -> None:
        """Exchange listener: only queue (see the module's docstring). A trade, an order event
        and a fill are queued as they came (a TradeEvent, an OrderEvent, the fill's dict), a
        book change as its (instrument, timestamp): `_dispatch` tells them apart by type,
        with no tuple built nor name compared per event."""
        kind = type(event)
        if kind is TradeEvent:
            if self._on_trade and event.instrument.index in self._subscribed_indexes:  # type: ignore[union-attr]  # kind is TradeEvent
                self._queue.append(event)  # type: ignore[arg-type]  # kind is TradeEvent
        elif kind is BookEvent:
            if self._on_book:
                self._book_changed(event)  # type: ignore[arg-type]  # kind is BookEvent
        elif kind is OrderEvent:
            if (
                self._on_order
                and event.account == self.account  # type: ignore[union-attr]  # kind is OrderEvent
                and self._mine(event.order)  # type: ignore[union-attr]  # kind is OrderEvent
            ):
                self._queue.append(event)  # type: ignore[arg-type]  # kind is OrderEvent
        elif kind is FillEvent and event.account == self.account and self._mine(event.fill):  # type: ignore[union-attr]  # kind is FillEvent
            # Accounted at once, so position() is current even before on_fill runs; the
            # FillInfo is only built for an on_fill, when it is dispatched.
            fill = event.fill  # type: ignore[union-attr]  # kind is FillEvent
            self.tally.add_fill(
                self.exchange.catalogue.find(fill["exchange"], fill["symbol"]), fill
            )
            if self._on_fill:
                self._queue.append(fill)

    def _book_changed(self, event: BookEvent) -> None:
        """Queue one on_book per subscribed book until it is dispatched (coalesced: the
        strategy sees the book as it is when the hook runs)."""
        instrument = self._subscribed.get((event.exchange, event.symbol))
        if instrument is not None:
            self._queue_book(instrument, event.timestamp)

    def _queue_book(self, instrument: Instrument, stamp: str) -> None:
        if instrument.index not in self._book_pending:
            self._book_pending.add(instrument.index)
            self._queue.append((instrument, stamp))

    def _mine(self, payload: Mapping[str, Any]) -> bool:
        client_id = payload.get("client_order_id")
        return isinstance(client_id, str) and client_id.startswith(self._prefix)

    def _dispatch(self) -> int:
        queue = self._queue
        handled = 0
        strategy = self.strategy
        while queue and self.state == RUNNING and handled < MAX_EVENTS_PER_STEP:
            payload = queue.popleft()
            handled += 1
            kind = type(payload)
            if kind is TradeEvent:  # the commonest by far: `_call` written out, one call less
                tick = trade_tick(payload)  # type: ignore[arg-type]  # kind is TradeEvent
                try:
                    strategy.on_trade(tick)  # type: ignore[union-attr]  # running: loaded
                except (Exception, SystemExit) as exc:  # sys.exit() in a strategy ends only it
                    self._fail("on_trade", exc)
                    continue
                if self._stop_requested is not None:
                    self._stop_as_requested(self._stop_requested)
            elif kind is tuple:
                instrument, stamp = cast("tuple[Instrument, str]", payload)
                self._book_pending.discard(instrument.index)
                top = book_top(self.exchange, instrument, datetime.fromisoformat(stamp))
                self._call(strategy.on_book, top)  # type: ignore[union-attr]  # running: loaded
            elif kind is OrderEvent:
                event = cast("OrderEvent", payload)
                order = order_info(event.order, event.event)
                self._call(strategy.on_order, order)  # type: ignore[union-attr]  # running: loaded
            else:
                fill = fill_info(cast("dict[str, Any]", payload))
                self._call(strategy.on_fill, fill)  # type: ignore[union-attr]  # running: loaded
        return handled

    def _call(self, hook: Callable[..., None], *args: Any, stopping: bool = False) -> None:
        try:
            hook(*args)
        except (Exception, SystemExit) as exc:  # sys.exit() in a strategy ends only it
            self._fail(hook.__name__, exc)
            return
        if self._stop_requested is not None and not stopping:
            self._stop_as_requested(self._stop_requested)

    def _stop_as_requested(self, reason: str) -> None:
        """After a hook that called ctx.stop(reason): on_stop, then the deployment completes."""
        if self.state == RUNNING:
            self._stop_requested = None
            self._call(self.strategy.on_stop, stopping=True)  # type: ignore[union-attr]  # running: loaded
            if self.state == RUNNING:
                self._finish(COMPLETED, reason)

    def _fail(self, where: str, exc: BaseException) -> None:
        self.last_error = f"{where}: {type(exc).__name__}: {exc}"
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
        self.log(f"{self.last_error}\n{text}", "error")
        self._finish(FAILED, self.last_error)

    def _finish(self, state: str, reason: str) -> None:
        self.state = state
        self.stop_reason = reason
        self.stopped_at = self.exchange.clock()
        self._queue.clear()
        self._book_pending.clear()
        try:  # at once, whatever `cancel` a subclass models: the deployment is over
            for order in self.live_orders():
                self.exchange.cancel_order(self.account, str(order.id))
        finally:
            self.exchange.remove_listener(self._listen)
            self._queue.clear()

    # -- order entry -------------------------------------------------------------------------
    def _last_sequence(self) -> int:
        account = self.exchange.ledger.accounts.get(self.account)
        last = 0
        if account is not None:
            for client_id in account.client_ids:
                if client_id.startswith(self._prefix) and client_id[len(self._prefix) :].isdigit():
                    last = max(last, int(client_id[len(self._prefix) :]))
        return last

    def place(self, request: dict[str, Any]) -> OrderInfo:
        self._sequence += 1
        request["client_order_id"] = client_order_id_for(self.deployment_id, self._sequence)
        exchange = self.exchange
        try:
            # Exchange.place_order without its wire dict: the Order itself, no lookup after.
            order, _created = exchange.submit(exchange.account(self.account), request)
        except Exception:
            self.tally.rejected += 1
            raise
        self.tally.orders += 1
        if order.is_live:
            self._orders[order.id] = order
        wire = order_wire(order)
        if wire["status"] == "rejected":
            self.tally.rejected += 1
        return order_info(wire, "placed")

    def live_orders(self) -> list[Order]:
        orders = self._orders
        closed = [order_id for order_id, order in orders.items() if not order.is_live]
        for order_id in closed:
            del orders[order_id]
        return list(orders.values())

    def cancel(self, order_id: str) -> OrderInfo:
        account = self.exchange.account(self.account)
        order = account.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is None or not self._mine({"client_order_id": order.client_id}):
            raise NotFound(
                f"Order {order_id!r} is not an order of deployment {self.deployment_id}",
                {"order_id": order_id},
            )
        if not order.is_live:
            raise OrderNotOpen(
                "order_id", order_id, f"Order {order_id} is {order.status} and cannot be canceled"
            )
        return order_info(self.exchange.cancel_order(self.account, order_id), "canceled")

    def cancel_all(self, only: Instrument | None) -> int:
        count = 0
        for order in self.live_orders():
            if only is None or order.instrument is only:
                self.cancel(str(order.id))
                count += 1
        return count

    # -- logs ------------------------------------------------------------------------------
    def log(self, message: str, level: str = "info") -> None:
        if level not in LOG_LEVELS:
            raise InvalidParameter("level", level, f"level must be one of {', '.join(LOG_LEVELS)}")
        if len(message) > MAX_LOG_MESSAGE:
            message = message[: MAX_LOG_MESSAGE - 3] + "..."
        record = {
            "timestamp": iso_from_micros(self.now_micros()),
            "level": level,
            "message": message,
        }
        self.logs.append(record)
        if self._log_sink is not None:
            self._log_sink(record)


__all__ = [
    "COMPLETED",
    "CREATED",
    "FAILED",
    "RUNNING",
    "STATES",
    "STOPPED",
    "StrategyHost",
]
