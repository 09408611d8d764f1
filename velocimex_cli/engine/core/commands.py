"""A command's life in the engine: begin (read the injected clock once), note the books it
touches, collect its events, then finish: bump the changed books' sequences, build the book
and ticker events, hand the changes to the store in one transaction and deliver the events
(or, under group commit, leave both to the next `flush`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import OrderEvent, TickerEvent
from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.views import book_event, order_wire, ticker
from velocimex_cli.wire.timefmt import iso_from_micros, to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.book import OrderBook
    from velocimex_cli.engine.core.events import Event
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.ledger import Account
    from velocimex_cli.engine.core.orders import Order

USER = AccountKind.USER  # a global is cheaper than an enum attribute on the hot path


class Commands:
    """Command plumbing of the Exchange (a mixin over its state)."""

    def _micros(self: ExchangeState) -> int:
        """The injected clock's time in microseconds. A datetime is immutable and the cache
        keeps the one it converted alive, so the same object again is the same time: a clock
        that returns one datetime per tick is converted once per tick; a `MicrosClock` is not
        converted at all."""
        source = self._micros_clock
        if source is not None:
            return source.micros
        moment = self.clock()
        if moment is not self._moment:
            self._moment: datetime | None = moment  # (typed as ExchangeState declares it)
            self._moment_micros = to_micros(moment)
        return self._moment_micros

    def _begin(self: ExchangeState) -> int:
        now = self._now = self._micros()
        if self._listeners:
            self._events: list[Event] | None = []  # (typed as ExchangeState declares it)
        return now

    def _touch_book(self: ExchangeState, index: int, book: OrderBook) -> None:
        if index not in self._command_books:
            if self._events is None or not self._book_events:
                self._command_books[index] = None
            else:
                self._command_books[index] = (book.best_bid(), book.best_ask())
                book.touched = set()

    def _emit_order(self: ExchangeState, order: Order, event: str) -> None:
        if self._events is not None:
            accounts = self._event_accounts
            if accounts is None or order.account in accounts:
                self._events.append(OrderEvent(order.account, event, order_wire(order)))

    def _order_closed(self: ExchangeState, account: Account, order: Order) -> None:
        """An order that ended (matching.py's and settlement.py's): it leaves a simulated
        account (a user's keeps its history) and goes into the command's changes."""
        if account.kind is not USER:
            account.orders.pop(order.id, None)
        if self._changes is not None:
            self._changes.orders[order.id] = order

    def _finish(self: ExchangeState) -> None:
        """End a command: bump the sequence of each book it changed, commit its changes in
        one transaction, then deliver its events (under group commit: leave both to `flush`)."""
        events = self._events
        books = self._command_books
        if events is None or not self._book_events:
            for index in books:
                book = self.books[index]
                if book.changed:
                    book.sequence += 1
                    book.changed = False
            self._traded.clear()
        else:
            stamp = iso_from_micros(self._now)
            instruments = self.catalogue.instruments
            for index, before in books.items():
                book = self.books[index]
                if book.changed:
                    book.sequence += 1
                    book.changed = False
                    events.append(book_event(instruments[index], book, stamp))
                if before != (book.best_bid(), book.best_ask()) or index in self._traded:
                    events.append(
                        TickerEvent(ticker(instruments[index], book, self.stats[index], self._now))
                    )
                book.touched = None
            self._traded.clear()
        books.clear()
        self._events = None
        if events:
            self._pending_events.extend(events)
        self._commit()

    def _commit(self: ExchangeState) -> None:
        """Hand a finished command's changes and events on: at once, or under group commit to
        the scheduled flush."""
        if self._schedule_flush is None:
            self.flush()
        elif not self._flush_pending and (self._pending_events or bool(self._changes)):
            self._flush_pending = True
            self._schedule_flush()
