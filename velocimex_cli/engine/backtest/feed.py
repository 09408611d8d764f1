"""The recorded (or simulated) market as a driver of the backtest's node: each step moves the
simulated clock to the next event's time and applies the event through `MarketReplay`. While
the strategy has nothing to do (no order on its way or resting, no timer, no event queued, no
sample due, no on_book: strategy_driver.py's `quiet_until`), a step goes on to the next events
until one gives it something (a trade for its on_trade) or a sample falls due: stepping the
node, the strategy driver and its host once per event between them did nothing but cost. And
after an event that does give it something, the feed steps the strategy driver itself and
goes on, as the node would have done next (`follow`'s `follower`): a strategy that handles
every trade of trades-only data no longer costs a node step per trade.

With trades-only data each print goes to the replay's print market (prints.py), which fills
the strategy's resting orders it reaches and shows the market it implies; the strategy's due
orders arrive after it (strategy_driver.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sized

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, Event, MarketData
from velocimex_cli.engine.backtest.market import CounterpartyExhausted, MarketReplay
from velocimex_cli.wire.errors import InsufficientBalance

QuietUntil = Callable[[], "int | None"]


def _never_quiet() -> int | None:
    return None


class MarketFeed:
    """Steps through `data`'s events for a strategy to follow: one event per node step, or
    while the strategy has nothing to do (`follow`) several, up to `per_step`."""

    per_step = 64  # at most this many events a step replays

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
        self._quiet_until: QuietUntil = _never_quiet
        self._queue: Sized = ()
        self._follower: Callable[[], None] | None = None
        self._armed: Callable[[], Sized] | None = None

    def follow(
        self,
        quiet_until: QuietUntil,
        queue: Sized,
        follower: Callable[[], None] | None = None,
        armed: Callable[[], Sized] | None = None,
    ) -> None:
        """Replay several events in one step while the follower is quiet: after an event that
        left `queue` (the strategy host's event queue) empty, `quiet_until()` returns None
        when the follower is to step now, else the timestamp from which it is to step again
        (an event at or after it ends the step, as does one that puts something in `queue`).

        `follower` (the follower's own step) lets the feed step it in place of the node after
        such an event and replay on, up to `per_step` events: what the node's step would do
        next, the engine's timers aside, so not while `armed()` (the accounts whose dead-man
        switch is set) holds any. The node then steps the follower once after the feed's step,
        for the last event, as before. It spares a strategy that handles every trade (each
        trade of trades-only data) a node step per event."""
        self._quiet_until = quiet_until
        self._queue = queue
        self._follower = follower
        self._armed = armed

    @property
    def steps_left(self) -> int:
        """Steps that replay no more than the events left (each replays at least one)."""
        return -(-(len(self.events) - 1 - self.index) // self.per_step)

    def step(self) -> None:
        events, index = self.events, self.index + 1
        end = min(index + self.per_step, len(events))
        set_clock, apply_book, trade = self._set_clock, self._book, self._trade
        queue, quiet_until, follower = self._queue, self._quiet_until, self._follower
        asked = False  # whether `until` is the follower's answer since it last stepped
        until: int | None = None
        while True:
            self.index = index  # (and event: what `ran_out` says ran the counterparty out)
            self.event = event = events[index]
            stamp = event[0]
            set_clock(stamp)
            if event[1] == BOOK:
                apply_book(event[2], event[3], event[4])
            else:
                trade(event[2], event[3], event[4])
            index += 1
            if not queue:  # (else the strategy has an event to handle: a trade for on_trade)
                if not asked:
                    until, asked = quiet_until(), True
                if until is not None and stamp < until:
                    if index == end:
                        return
                    continue  # nothing for the follower to do after this event: on
            # The follower is to step now: here, and on, while nothing else would step.
            if follower is None or index == end or (self._armed is not None and self._armed()):
                return
            follower()
            asked = False

    def ran_out(self, exc: InsufficientBalance) -> CounterpartyExhausted:
        """What to say when the current event found the counterparty short (market.py)."""
        return self.replay.ran_out(exc, max(self.index, 0), self.event, self.trades_only)

    def close(self) -> None:
        """Nothing to save: the data is the caller's."""


class MarketAlone(MarketFeed):
    """The market with no strategy to follow it: nothing steps between its events, so each
    node step replays `per_step` of them (what the replay costs without a strategy)."""

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
