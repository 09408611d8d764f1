"""Resting liquidity kept in a book by a simulated account, changed outside the command path.

A backtest mirrors a recorded book into the engine's book as a simulated account's orders and
changes them at every recorded level change: through `place` and `cancel_live` each change is
a whole command (pre-trade checks, events, a commit) that nobody observes. `Liquidity` makes
the same changes to the same state directly: the orders rest in the real book and lock the
account's balance exactly as placed orders do (`locks.lock_for` of what remains), so matching,
settlement and the ledger treat them like any other order. It builds no events and records no
changes, so it refuses an engine with a store or with a listener that wants the account's
order events or book events.

An order that would cross the book is placed through `Exchange.place` (it matches first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.locks import lock_for
from velocimex_cli.engine.core.orders import BUY, CANCELED, GTC, LIMIT, Order, Reason
from velocimex_cli.wire.errors import InsufficientBalance

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.ledger import Account


class Liquidity:
    """One simulated account's resting orders on one instrument's book."""

    def __init__(self, exchange: Exchange, account: Account, instrument: Instrument) -> None:
        if account.kind is AccountKind.USER:
            raise ValueError("only a simulated account's liquidity is changed outside commands")
        self.exchange = exchange
        self.account = account
        self.instrument = instrument
        self.book = exchange.books[instrument.index]
        self._quote = account.balance(instrument.quote)
        self._base = account.balance(instrument.base)

    def _check_quiet(self) -> None:
        """Nobody may need these changes as events or store changes."""
        exchange = self.exchange
        if exchange._store is not None:
            raise RuntimeError("an engine with a store records every change as a command")
        if exchange._listeners:
            accounts = exchange._event_accounts
            if exchange._book_events or accounts is None or self.account.name in accounts:
                raise RuntimeError("a listener wants the events these changes would make")

    def _balance(self, side: int, units: int) -> list[int]:
        """The [total, locked] entry an order of `side` locks in, checked to have `units` more
        available."""
        balance = self._quote if side == BUY else self._base
        if units > balance[0] - balance[1]:
            asset = self.instrument.quote if side == BUY else self.instrument.base
            raise InsufficientBalance(
                f"Not enough {asset} for the liquidity of {self.account.name}",
                {"asset": asset, "account": self.account.name},
            )
        return balance

    def add(self, side: int, ticks: int, lots: int, now: int) -> Order:
        """A new order of `lots` at `ticks` at the back of its level (or, when it would cross
        the book, placed: it trades first and rests only if something is left)."""
        exchange = self.exchange
        if self.book.crosses(side, ticks):
            return exchange.place(self.account, self.instrument, side, lots, ticks)[0]
        self._check_quiet()
        account = self.account
        order = Order(
            exchange.next_order_id, account.name, self.instrument, side, LIMIT, GTC, False,
            ticks, lots, None, now,
        )  # fmt: skip
        units = lock_for(order, lots, exchange._lock_bps)
        self._balance(side, units)[1] += units
        exchange.next_order_id += 1
        account.orders[order.id] = order
        account.open_orders += 1
        self.book.rest(order)
        return order

    def resize(self, order: Order, remaining: int, now: int) -> bool:
        """Set a resting order's remaining lots in place, keeping its queue position, its lock
        following exactly. Growing is refused (False) unless it is the last of its level."""
        self._check_quiet()
        bps = self.exchange._lock_bps
        units = lock_for(order, remaining, bps) - lock_for(order, order.remaining, bps)
        balance = self._balance(order.side, units)
        if not self.book.resize(order, remaining):
            return False
        balance[1] += units
        order.updated = now
        return True

    def remove(self, order: Order, now: int) -> None:
        """Cancel a resting order: out of the book, its lock released."""
        self._check_quiet()
        account = self.account
        self.book.remove(order)
        units = lock_for(order, order.remaining, self.exchange._lock_bps)
        (self._quote if order.side == BUY else self._base)[1] -= units
        order.status = CANCELED
        order.reason = Reason.CANCELED_BY_USER
        order.updated = now
        account.open_orders -= 1
        account.orders.pop(order.id, None)

    def publish(self) -> None:
        """End a batch of changes: the book's sequence moves on if it changed (as a command's
        end does)."""
        book = self.book
        if book.changed:
            book.sequence += 1
            book.changed = False
