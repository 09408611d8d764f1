"""The strategy host of a backtest: the live host, with orders that reach the market later.

A strategy reacts to an event the replay has just applied. If its order entered the book at
once it would trade against the very state that prompted it, as if it had arrived with zero
latency; worse, against a print's own liquidity. So a backtest holds every order until the
first event after it was placed (and at least `latency` of simulated time later) has been
applied, and only then hands it to the engine's normal order entry. Until then the order is
`pending`: the strategy gets an OrderInfo with that status, its client_order_id as its id, and
can cancel it by that id, before and after it arrives (as live, where the id a strategy kept
from place_order cancels its order); once sent, its events arrive through on_order/on_fill as
they do live. An order
the engine refuses on arrival is reported through on_order as `rejected` with the reason, as
an exchange reports an order it refuses after accepting the request, its `reason` the
error's code in lower case (`market_closed`, `insufficient_balance`, ...).

While the recorded feed of a mirrored venue was down (market.py: the instrument is in
`Exchange.halts`), an arriving order that would trade at once (a market order, a limit at or
through the opposite best price) is refused with MARKET_CLOSED and the feed's reason, as the
live engine refuses it (core/venue_gate.py); an order that only rests is accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence, Sized
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.core import venue_gate
from velocimex_cli.engine.core.entry import parse_order
from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.orders import Order
from velocimex_cli.engine.drivers.strategies.context import OrderInfo, client_order_id_for
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.wire.errors import ApiError
from velocimex_cli.wire.timefmt import iso_from_micros


class BacktestHost(StrategyHost):
    def __init__(
        self, *args: Any, latency_micros: int = 0, extra_events: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.latency = latency_micros
        self.extra_events = extra_events
        # (due micros, the replay's event index it was placed at, client id, request)
        self.pending: deque[tuple[int, int, str, dict[str, Any]]] = deque()
        self.event_index = 0
        self.ordered_quantity = Decimal(0)
        self._refused: list[OrderInfo] = []
        self.first_rejection: str | None = None  # why the first order refused on arrival was

    # -- the strategy's side -----------------------------------------------------------------
    def place(self, request: dict[str, Any]) -> OrderInfo:
        self._sequence += 1
        client_id = client_order_id_for(self.deployment_id, self._sequence)
        request["client_order_id"] = client_id
        due = self.now_micros() + self.latency
        self.pending.append((due, self.event_index, client_id, request))
        self.tally.orders += 1
        self.ordered_quantity += Decimal(request["quantity"])
        return self._pending_info(request, "pending", "placed")

    def _pending_info(
        self, request: dict[str, Any], status: str, event: str, reason: str = "canceled_by_user"
    ) -> OrderInfo:
        price = request.get("price")
        return OrderInfo(
            order_id=request["client_order_id"],
            client_order_id=request["client_order_id"],
            exchange=request["exchange"],
            symbol=request["symbol"],
            side=request["side"],
            type=request["type"],
            time_in_force=request.get("time_in_force") or ("gtc" if price is not None else "ioc"),
            post_only=bool(request.get("post_only")),
            quantity=Decimal(request["quantity"]),
            price=None if price is None else Decimal(price),
            filled_quantity=Decimal(0),
            average_price=None,
            status=status,
            reason=None if status == "pending" else reason,
            event=event,
        )

    def cancel(self, order_id: str) -> OrderInfo:
        for entry in self.pending:
            if entry[2] == order_id:
                self.pending.remove(entry)
                return self._pending_info(entry[3], "canceled", "canceled")
        if order_id.startswith(self._prefix):  # the id it had while pending: it has arrived
            arrived = self.exchange.account(self.account).client_ids.get(order_id)
            if arrived is not None:
                order_id = str(arrived)
        return super().cancel(order_id)

    def cancel_all(self, only: Any) -> int:
        kept = [
            e
            for e in self.pending
            if only is not None
            and (e[3]["exchange"], e[3]["symbol"]) != (only.venue.name, only.symbol)
        ]
        dropped = len(self.pending) - len(kept)
        self.pending.clear()  # in place: the replay loop holds this deque
        self.pending.extend(kept)
        return dropped + super().cancel_all(only)

    # -- the replay's side -----------------------------------------------------------------
    def start(self) -> None:
        """Start, and have the engine build only what this host reads: its own account's
        orders and fills, and trades for an on_trade. Book changes come from `book_changed`
        instead."""
        super().start()
        self.exchange.restrict_listener(
            self._listen,
            Interest(
                accounts=frozenset({self.account}), books=False, trades="on_trade" in self._wants
            ),
        )

    @property
    def queue(self) -> Sized:
        """The events queued for the strategy's hooks (non-empty: `step` has work)."""
        return self._queue

    @property
    def quiet(self) -> bool:
        """Would `step` and `send_due` do nothing (no order on its way or refused, no event
        queued, no timer set)?"""
        return (
            not self.pending
            and not self._refused
            and not self._queue
            and self.timers.next_due is None
        )

    @property
    def wants_books(self) -> bool:
        """Does the strategy have an on_book hook (else `book_changed` need not be called)?"""
        return "on_book" in self._wants

    def book_changed(self, stamp: int) -> None:
        """The deployed instrument's book changed at `stamp` (one on_book per step, coalesced,
        as the live host does from book events)."""
        if "on_book" not in self._wants:
            return
        index = self.instrument.index
        if index not in self._book_pending and self.state == "running":
            self._book_pending.add(index)
            self._queue.append((self.instrument, iso_from_micros(stamp)))

    def send_due(self, now: int, event_index: int) -> Sequence[tuple[int, int]]:
        """Hand the engine every pending order placed before event `event_index` (and
        `extra_events` before it) whose latency has passed by `now`. Returns (side, ticks) of
        the orders that came to rest."""
        self.event_index = event_index
        pending = self.pending
        if not pending:  # called for every replayed event: most have nothing to send
            return ()
        rested: list[tuple[int, int]] = []
        last = event_index - self.extra_events
        exchange = self.exchange
        account = exchange.account(self.account)
        while pending and pending[0][0] <= now and pending[0][1] < last:
            _due, _index, client_id, request = pending.popleft()
            try:  # `place_order` without the wire dict it would build for its answer
                if exchange.halts:  # the recorded feed was down (market.py)
                    order, _created = self._submit_halted(account, request)
                else:
                    order, _created = exchange.submit(account, request)
            except ApiError as exc:
                self.tally.rejected += 1
                reason = exc.code.lower()
                info = self._pending_info(request, "rejected", "rejected", reason)
                self.log(f"order {client_id} rejected on arrival: {exc.message}", "warning")
                if self.first_rejection is None:
                    self.first_rejection = exc.message
                self._refused.append(info)
                continue
            if order.is_live:
                self._orders[order.id] = order
                if order.resting:
                    rested.append((order.side, order.price))
        return rested

    def _submit_halted(self, account: Account, request: dict[str, Any]) -> tuple[Order, bool]:
        """`Exchange.submit` while an instrument is halted: the order parsed, refused with
        MARKET_CLOSED when it would trade now on a halted instrument (as the live engine's
        venue gate refuses it), else placed."""
        exchange = self.exchange
        instrument, side, _type, tif, post_only, lots, ticks, client_id = parse_order(
            exchange.catalogue, request
        )
        venue_gate.check_halt(exchange, instrument, side, ticks)
        return exchange.place(account, instrument, side, lots, ticks, tif, post_only, client_id)

    def step(self) -> int:
        """Report the orders refused on arrival through on_order, before the queued events,
        then step as the live host does."""
        if not self._refused or self.state != "running":
            # StrategyHost.step written out (a backtest steps once per trade it handles)
            if self.state != "running":
                return 0
            handled = self._dispatch() if self._queue else 0  # most events: nothing queued
            if self.timers.next_due is not None and self.state == "running":
                handled += self._fire_timers()
            return handled
        refused, self._refused = self._refused, []
        for info in refused:
            if self.state == "running":
                self._call(self.strategy.on_order, info)  # type: ignore[union-attr]  # running: loaded
        return len(refused) + super().step()
