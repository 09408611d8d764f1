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

A live mirror of a real venue (engine/drivers/venues/mirror.py) has a store and listeners, so
its `Liquidity` is `volatile`: its account's resting orders are a view of the venue, not state.
Nothing of them is stored (a restart drops what the store saw of them, `drop_volatile`, and the
venue's next snapshot rebuilds them), and the mirror publishes the book deltas of its changes
itself. Whatever a user's order does against them (accepted, filled, balances) goes through
the normal command path, stored before it is answered.

`set_level` makes the account's resting quantity at a level a given size (a recorded book's
level change); `set_book` does a batch of them in one C call (`_native.mirror_book`, in
engine/backtest/liquidity.c beside the backtest it serves) when the C core is active, reading
the account's orders at a level from the book's own queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from velocimex_cli.engine.core import native_path
from velocimex_cli.engine.core.events import Event, TickerEvent
from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.locks import lock_for, lock_rate_of, locked_asset
from velocimex_cli.engine.core.orders import BUY, CANCELED, GTC, LIMIT, NATIVE, SELL, Order, Reason
from velocimex_cli.engine.core.views import book_event, ticker
from velocimex_cli.wire.errors import InsufficientBalance
from velocimex_cli.wire.timefmt import iso_from_micros

# The C core's batch of `set_level`s, when it is configured for the engine path.
mirror_book: Callable[..., int] | None = None
if NATIVE and native_path.place is not None:
    from velocimex_cli.engine.core import _native

    mirror_book = _native.mirror_book

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.ledger import Account


class Liquidity:
    """One simulated account's resting orders on one instrument's book."""

    def __init__(
        self, exchange: Exchange, account: Account, instrument: Instrument, volatile: bool = False
    ) -> None:
        """`volatile`: the changes are a view of a venue that nobody stores (see above)."""
        if account.kind is AccountKind.USER:
            raise ValueError("only a simulated account's liquidity is changed outside commands")
        self.exchange = exchange
        self.account = account
        self.instrument = instrument
        self.volatile = volatile
        self.book = exchange.books[instrument.index]
        self._quote = account.balance(instrument.quote)
        self._base = account.balance(instrument.base)

    def _check_quiet(self) -> None:
        """Nobody may need these changes as events or store changes (a volatile mirror's
        owner publishes its book changes and stores none of them)."""
        if self.volatile:
            return
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
            asset = locked_asset(self.instrument, side)
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
        units = lock_for(order, lots, lock_rate_of(self.instrument, exchange._lock_rate))
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
        rate = lock_rate_of(self.instrument, self.exchange._lock_rate)
        units = lock_for(order, remaining, rate) - lock_for(order, order.remaining, rate)
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
        rate = lock_rate_of(self.instrument, self.exchange._lock_rate)
        units = lock_for(order, order.remaining, rate)
        (self._quote if order.side == BUY else self._base)[1] -= units
        order.status = CANCELED
        order.reason = Reason.CANCELED_BY_USER
        order.updated = now
        account.open_orders -= 1
        account.orders.pop(order.id, None)

    def orders_at(self, side: int, ticks: int) -> list[Order]:
        """The account's resting orders at a level, oldest first."""
        name = self.account.name
        return [o for o in self.book.level_orders(side, ticks) if o.account == name]

    def prices(self, side: int) -> list[int]:
        """The prices where the account has orders resting on `side`."""
        name = self.account.name
        return sorted({o.price for o in self.book.resting_orders(side) if o.account == name})

    def set_level(self, side: int, ticks: int, lots: int, now: int) -> None:
        """Make the account's resting quantity at (side, ticks) equal `lots`: the newest
        liquidity goes first (its newest orders go, and the newest that keeps some shrinks in
        place, keeping its queue position); growth joins the back of the queue (the last order
        grows when nothing rests behind it, else a new order joins)."""
        orders = self.orders_at(side, ticks)
        held = sum(o.remaining for o in orders)
        while held > lots:
            newest = orders[-1]
            left = newest.remaining
            if held - left < lots:
                self.resize(newest, lots - held + left, now)
                held = lots
            else:
                orders.pop()
                self.remove(newest, now)
                held -= left
        if lots > held:
            last = orders[-1] if orders else None
            if last is None or not self.resize(last, last.remaining + lots - held, now):
                self.add(side, ticks, lots - held, now)

    def set_book(
        self, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]], now: int
    ) -> None:
        """`set_level` for each (ticks, lots) of `bids`, then of `asks`, then `publish`: in C
        when the C core is active (`mirror_book`), which hands back to `set_level` what it
        does not do."""
        if mirror_book is None:
            for side, levels in ((BUY, bids), (SELL, asks)):
                for ticks, lots in levels:
                    self.set_level(side, ticks, lots, now)
            self.publish()
            return
        self._check_quiet()
        args = (self.exchange, self.account, self.instrument, self.book, self._quote, self._base)
        count, split = len(bids) + len(asks), len(bids)
        index = mirror_book(*args, bids, asks, 0, now)
        while index < count:  # handed back: this level through Python, then on in C
            side, (ticks, lots) = (
                (BUY, bids[index]) if index < split else (SELL, asks[index - split])
            )
            self.set_level(side, ticks, lots, now)
            index = mirror_book(*args, bids, asks, index + 1, now)

    def watch(self) -> tuple[int | None, int | None] | None:
        """Before a volatile batch of changes: note the levels it changes when a listener
        wants book events; the best prices before it (None: nobody wants them)."""
        exchange = self.exchange
        if not exchange._listeners or not exchange._book_events:
            return None
        book = self.book
        book.touched = set()
        return book.best_bid(), book.best_ask()

    def announce(self, before: tuple[int | None, int | None] | None, now: int) -> None:
        """After a volatile batch (`before` from `watch`): publish it (the sequence moves on)
        and deliver its book delta, and the ticker when the best prices moved, after every
        event of the commands before it, as a command's events are delivered."""
        self.publish()
        book = self.book
        if before is None:
            return
        if not book.touched:
            book.touched = None
            return
        exchange = self.exchange
        instrument = self.instrument
        events: list[Event] = [book_event(instrument, book, iso_from_micros(now))]
        book.touched = None
        if before != (book.best_bid(), book.best_ask()):
            stats = exchange.stats[instrument.index]
            events.append(TickerEvent(ticker(instrument, book, stats, now)))
        exchange._pending_events.extend(events)
        exchange._commit()

    def publish(self) -> None:
        """End a batch of changes: the book's sequence moves on if it changed (as a command's
        end does)."""
        book = self.book
        if book.changed:
            book.sequence += 1
            book.changed = False


def drop_volatile(exchange: Exchange, account: Account) -> int:
    """At start, before a volatile mirror trades: cancel what the store kept of its account's
    orders (those a user's trade touched were stored) as one command, and clear the locks of
    those it never stored. Returns how many were canceled."""
    live = list(account.live_orders())
    if live:
        exchange.cancel_all(account.name)
    for asset, balance in account.balances.items():
        if balance[1]:
            exchange.clear_locks(account, asset)
    return len(live)
