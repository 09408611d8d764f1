"""The recorded (or simulated) market as a driver of the backtest's node: each step moves the
simulated clock to the next event's time and applies the event through `MarketReplay`.

With trades-only data each print goes to the replay's print market (prints.py), which fills
the strategy's resting orders it reaches and shows the market it implies; the strategy's due
orders arrive after it (strategy_driver.py).
"""

from __future__ import annotations

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, Event, MarketData
from velocimex_cli.engine.backtest.market import CounterpartyExhausted, MarketReplay
from velocimex_cli.wire.errors import InsufficientBalance


class MarketFeed:
    """Steps through `data`'s events, one per node step, for a strategy to follow each."""

    per_step = 1  # events a step replays

    def __init__(self, data: MarketData, clock: SimulatedClock, replay: MarketReplay) -> None:
        self.events = data.events
        self.trades_only = data.trades_only
        self.clock = clock
        self.replay = replay
        self.index = -1  # of the event applied last
        self.event: Event = data.events[0]
        self._set_clock = clock.set
        self._book = replay.book
        self._trade = replay.prints.trade if data.trades_only else replay.trade

    @property
    def steps_left(self) -> int:
        return -(-(len(self.events) - 1 - self.index) // self.per_step)

    def step(self) -> None:
        self.index = index = self.index + 1
        self.event = event = self.events[index]
        self._set_clock(event[0])
        if event[1] == BOOK:
            self._book(event[2], event[3], event[4])
        else:
            self._trade(event[2], event[3], event[4])

    def ran_out(self, exc: InsufficientBalance) -> CounterpartyExhausted:
        """What to say when the current event found the counterparty short (market.py)."""
        return self.replay.ran_out(exc, max(self.index, 0), self.event, self.trades_only)

    def close(self) -> None:
        """Nothing to save: the data is the caller's."""


class MarketAlone(MarketFeed):
    """The market with no strategy to follow it: nothing steps between its events, so each
    node step replays up to `per_step` of them (what the replay costs without a strategy)."""

    per_step = 1000

    def step(self) -> None:
        events, start = self.events, self.index + 1
        set_clock, apply_book, trade = self._set_clock, self._book, self._trade
        index, event = self.index, self.event
        try:
            # (index: read in `finally`, to say which event ran the counterparty out)
            for index, event in enumerate(events[start : start + self.per_step], start):  # noqa: B007
                set_clock(event[0])
                if event[1] == BOOK:
                    apply_book(event[2], event[3], event[4])
                else:
                    trade(event[2], event[3], event[4])
        finally:
            self.index, self.event = index, event
