"""The backtest's strategy as a driver of its node: after the feed applied an event, hand the
engine the strategy's due orders, tell the strategy what changed, and sample the account.

The strategy starts at the first event that leaves a price in the book. Its fills are recorded
with the mid as the event found it (for the report's slippage figures), and the account is
sampled about every `interval` of simulated time: its value at the book's mid (the last one
when a side is empty), its base position and that mark.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from velocimex_cli.engine.backtest import metrics
from velocimex_cli.engine.backtest.feed import MarketFeed
from velocimex_cli.engine.backtest.host import BacktestHost
from velocimex_cli.engine.core.events import Event, FillEvent
from velocimex_cli.engine.core.exchange import Exchange, Interest
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument


class StrategyDriver:
    def __init__(
        self,
        exchange: Exchange,
        feed: MarketFeed,
        host: BacktestHost,
        instrument: Instrument,
        *,
        first_mark: Decimal,
        interval: int,
    ) -> None:
        self.feed = feed
        self.host = host
        self.book = exchange.book(instrument)
        self.account = exchange.account(host.account)
        self.base, self.quote, self.tick = instrument.base, instrument.quote, instrument.tick_size
        self.started = False
        self.quotes: tuple[int | None, int | None] = (None, None)
        self.fills: list[dict[str, Any]] = []
        self.samples: list[metrics.Sample] = []
        self.last_mark = first_mark
        self.interval = interval
        self.next_sample = feed.events[0][0]
        self._sequence = self.book.sequence
        self._wants_books = host.wants_books
        exchange.add_listener(
            self._record_fill,
            Interest(accounts=frozenset({host.account}), books=False, trades=False),
        )
        feed.follow(self.quiet_until, host.queue, self.step, lambda: exchange._armed)

    def quiet_until(self) -> int | None:
        """None when this driver is to step after the event the feed applied, else the timestamp
        of its next sample: until then, with nothing pending, resting, armed, timed or queued
        and no on_book, its step would change nothing (the quotes it keeps are read only by
        a fill of the strategy, which needs an order), so the feed may replay on (feed.py)."""
        if (
            not self.started
            or self._wants_books
            or not self.host.quiet
            or self.account.open_orders
            or (self.account.risk is not None and self.account.risk.cancel_at is not None)
        ):
            return None
        return self.next_sample

    def _record_fill(self, event: Event) -> None:
        if type(event) is FillEvent and event.account == self.host.account:
            bid, ask = self.quotes
            mid = None if bid is None or ask is None else Decimal(bid + ask) * self.tick / 2
            self.fills.append({**event.fill, "mid": mid})

    def step(self) -> None:
        feed, book, host = self.feed, self.book, self.host
        event = feed.event
        if not self.started:
            if book.best_bid() is None and book.best_ask() is None:
                return
            host.start()
            self.started = True
        stamp = event[0]
        if host.pending or self.account.open_orders:
            # Read only by `_record_fill`, and a fill before the next step needs an order
            # sent now or resting: with neither, the quotes kept stay unread.
            self.quotes = (book.best_bid(), book.best_ask())
        if host.pending:
            for side, price in host.send_due(stamp, feed.index):
                feed.replay.strategy_joined(side, price)
        else:
            host.event_index = feed.index  # what send_due records: orders placed now wait for it
        if self._wants_books and book.sequence != self._sequence:
            self._sequence = book.sequence
            host.book_changed(stamp)
        host.step()
        if stamp >= self.next_sample:
            self.samples.append(self.sample(stamp))
            self.next_sample = stamp - stamp % self.interval + self.interval

    def sample(self, stamp: int) -> metrics.Sample:
        book, account = self.book, self.account
        bid, ask = book.best_bid(), book.best_ask()
        base_units = account.balance(self.base)[0]
        quote_units = account.balance(self.quote)[0]
        if bid is not None and ask is not None:
            mark = Decimal(bid + ask) * self.tick / 2
        else:
            mark = self.last_mark
        self.last_mark = mark
        value = (Decimal(quote_units) + Decimal(base_units) * mark) / LEDGER_SCALE
        return metrics.Sample(stamp, value, Decimal(base_units) / LEDGER_SCALE, mark)

    def close(self) -> None:
        """The data ended: the strategy stops (on_stop, its orders canceled), and the account
        as it ends is the last sample. The last stamp's sample may have been taken at its first
        event, before later events of that stamp (a generated market has several) filled the
        strategy: the final one stands."""
        if self.started:
            self.host.stop("end of data")
        end = self.feed.events[-1][0]
        last = self.sample(end)
        if self.samples and self.samples[-1].timestamp == end:
            self.samples[-1] = last
        else:
            self.samples.append(last)
