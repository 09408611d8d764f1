"""Matching: create an order that passed the pre-trade checks, lock what it may spend, match
it against the book and decide how it ends (rests, fills, or is canceled with a reason);
canceling a live order and releasing its lock.

The book itself (price-time priority) is book.py / the C core; settlement of each fill is
settlement.py; self-trades are self_trade.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.locks import lock_for, lock_rate_of
from velocimex_cli.engine.core.orders import (
    BUY,
    CANCELED,
    FILLED,
    FOK,
    GTC,
    MARKET,
    PARTIALLY_FILLED,
    REJECTED,
    SELL,
    Order,
    Reason,
    Status,
)
from velocimex_cli.engine.core.self_trade import cancel_makers

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.ledger import Account


class Matching:
    """Order execution and cancellation of the Exchange (a mixin over its state)."""

    def _execute(
        self: ExchangeState,
        account: Account,
        order: Order,
        asset: str,
        required: int,
        reject: Reason | None,
    ) -> Order:
        """Create and match an order that passed `_check`."""
        instrument = order.instrument
        book = self.books[instrument.index]
        side, type_, tif = order.side, order.type, order.tif
        lots, ticks, client_id = order.quantity, order.price, order.client_id
        # From here on the command cannot fail: it changes state.
        now = self._begin()
        order.created = order.updated = now
        self.next_order_id += 1
        account.orders[order.id] = order
        if client_id is not None:
            account.client_ids[client_id] = order.id
        self._touch_book(instrument.index, book)
        changes = self._changes
        emit = self._emit_order if self._events is not None else None
        if reject is not None:
            order.status = REJECTED
            order.reason = reject
            self._order_closed(account, order)
            if emit:
                emit(order, "rejected")
            self._finish()
            return order
        # Lock what the order may spend.
        account.balances[asset][1] += required
        if changes is not None:
            changes.balances.add((account.name, asset))
        if tif is FOK and book.fillable(side, ticks, lots, account.name) < lots:
            self._release(account, order, Reason.FOK_NOT_FILLABLE, CANCELED)
            if emit:
                emit(order, "canceled")
            self._finish()
            return order
        if emit:
            emit(order, "accepted")
        self_trades: list[Order] = []
        fills = book.take(side, account.name, ticks, lots, self_trades)
        if self_trades:
            cancel_makers(self, self_trades, emit)
        if fills:
            self._settle(account, order, fills)
        if order.filled == lots:
            order.status = FILLED
            self._order_closed(account, order)
            if emit:
                emit(order, "filled")
        elif tif is GTC:
            book.rest(order)
            account.open_orders += 1
            if order.filled:
                order.status = PARTIALLY_FILLED
                if emit:
                    emit(order, "partially_filled")
        else:
            if order.filled and emit:
                emit(order, "partially_filled")
            if type_ is MARKET:
                opposite = book.best_bid() if side == SELL else book.best_ask()
                reason = Reason.MARKET_PROTECTION if opposite is not None else Reason.NO_LIQUIDITY
            else:
                reason = Reason.IOC_REMAINDER
            self._release(account, order, reason)
            if emit:
                emit(order, "canceled")
        if changes is not None:
            changes.orders[order.id] = order
        self._finish()
        return order

    def _release(
        self: ExchangeState,
        account: Account,
        order: Order,
        reason: Reason,
        status: Status = CANCELED,
    ) -> None:
        """End a live order: unlock what it still holds and record why."""
        instrument = order.instrument
        asset = instrument.quote if order.side == BUY else instrument.base
        rate = lock_rate_of(instrument, self._lock_rate)
        account.balances[asset][1] -= lock_for(order, order.quantity - order.filled, rate)
        order.status = status
        order.reason = reason
        order.updated = self._now
        self._order_closed(account, order)
        if self._changes is not None:
            self._changes.balances.add((account.name, asset))
            self._changes.orders[order.id] = order

    def _cancel(
        self: ExchangeState,
        account: Account,
        order: Order,
        reason: Reason = Reason.CANCELED_BY_USER,
    ) -> None:
        book = self.books[order.instrument.index]
        self._touch_book(order.instrument.index, book)
        if order.resting:
            book.remove(order)
        account.open_orders -= 1
        self._release(account, order, reason)
        self._emit_order(order, "canceled")
