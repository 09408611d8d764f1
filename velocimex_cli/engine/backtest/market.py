"""Recorded markets replayed into the real matching engine.

Recorded liquidity becomes real resting orders of a `bt-market` account (the mirror) in the
engine's own book, and recorded trades become real orders of a `bt-tape` account that trade
against that book. A strategy's orders rest and match in the same book under the same
price-time priority and fees, so:

- queue position is real: an order joining a level rests behind the mirror's liquidity already
  there and fills only after the recorded trades have consumed it (the default `queue` fill
  model). With `touch`, the mirror's orders at a level a strategy joins are re-queued behind the
  strategy's order, so it fills as soon as the price trades there (optimistic).
- a level the recording shrinks loses the mirror's newest liquidity first: its newest orders
  go, and the newest that keeps some shrinks in place, keeping its queue position; a level it
  grows gets the new liquidity at the back of the queue (the mirror's last order grows when it
  is the last of its level, else a new mirror order joins behind).
- a recorded trade that finds no liquidity left (because the strategy already took it) trades
  what is there and no more.
- a recorded trade at a price never spends itself on the mirror's better levels when the
  strategy has an order in its way: a venue prints each price a sweep takes, so a print at P
  says the levels better than P were gone when it traded, even when the recorded book still
  holds them (its change comes later, or the strategy took part of the print before). The
  mirror's liquidity there goes first (`venue_prints.clear_the_way`, the live mirror's own
  step: one fill model for venue prints, live and here); the strategy's orders at better
  prices, which the print went through, fill first, then the queue at P, together never more
  than the print's size.
- while a mirrored venue's recorded feed was down (a `book_status` not valid, data.FeedState,
  until the next snapshot or a `book_status` valid again), the instrument is halted as the
  live engine halts it (`Exchange.halts`): the strategy's orders that would trade at once are
  refused with MARKET_CLOSED and the feed's reason (host.py), its resting orders stay, and
  recorded trades are printed only (`venue_prints.record_print`: on_trade sees them, nothing
  is matched), so the held book fills nothing.

Trades-only data (a CSV of trades, imported trades) has no book: `prints` (prints.py) holds
its fill model, a market shown from the last print and the strategy's queues at its prices.

The mirror and the tape are the backtest's counterparty: the rest of the market. Each starts
with COUNTERPARTY_FUNDS of both assets, a quarter of the most a ledger balance holds (so the
two, and whatever flows between them and the strategy, stay within 64 bits): 2.3e10 units of an
asset, beyond any real book or day of trades. A recording that needs more (its book or a
trade, or its trades' running one-way flow, is larger) stops with `CounterpartyExhausted`,
which says what ran out at which event, instead of an INSUFFICIENT_BALANCE from deep down.
"""

from __future__ import annotations

from decimal import Decimal

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, Event, FeedState
from velocimex_cli.engine.backtest.prints import PrintMarket
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument
from velocimex_cli.engine.core.ledger import MAX_UNITS, Account, AccountKind, units_to_decimal
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, IOC, SELL
from velocimex_cli.engine.core.venue_prints import clear_the_way, record_print
from velocimex_cli.wire.errors import ApiError, ErrorCode, InsufficientBalance
from velocimex_cli.wire.timefmt import iso_from_micros

MIRROR = "bt-market"
TAPE = "bt-tape"
FILL_MODELS = ("queue", "touch")
COUNTERPARTY_FUNDS = MAX_UNITS // 4  # ledger units of each asset, for the mirror and the tape
ROLES = {
    MIRROR: "the account that holds the recorded book",
    TAPE: "the account that takes the other side of the recorded trades",
}


class CounterpartyExhausted(ApiError):
    """The recorded market needs more than the backtest's counterparty can hold: bad input
    (INVALID_PARAMETER, exit 2) in the data, not the strategy's balance."""

    code = ErrorCode.INVALID_PARAMETER


class MarketReplay:
    def __init__(
        self,
        exchange: Exchange,
        clock: SimulatedClock,
        instrument: Instrument,
        fill_model: str = "queue",
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.instrument = instrument
        self.touch = fill_model == "touch"
        self.mirror = self._account(MIRROR)
        self.tape = self._account(TAPE)
        self.liquidity = Liquidity(exchange, self.mirror, instrument)
        self.prints = PrintMarket(
            exchange, clock, instrument, self.liquidity, self.tape, touch=self.touch
        )
        self._book = exchange.book(instrument)
        # Why the recorded feed was down (a book_status not valid); None: it was whole.
        self.halted: str | None = None

    def _account(self, name: str) -> Account:
        exchange = self.exchange
        exchange.ensure_account(name, AccountKind.SIMULATED)
        account = exchange.account(name)
        for asset in (self.instrument.base, self.instrument.quote):
            exchange.fund(name, asset, Decimal(COUNTERPARTY_FUNDS) / LEDGER_SCALE)
        return account

    def ran_out(
        self, exc: InsufficientBalance, index: int, event: Event, trades_only: bool
    ) -> CounterpartyExhausted:
        """What to say when replaying `event` (the index-th, from 0) found the mirror or the
        tape without enough of an asset: which, where, and what to do."""
        instrument = self.instrument
        asset = str(exc.details.get("asset") or "")
        if event[1] == BOOK:
            name = MIRROR
            what = "book snapshot" if event[2] else "book change"
        else:
            name = str(exc.details.get("account") or (MIRROR if trades_only else TAPE))
            side = "buy" if event[2] == BUY else "sell"
            what = (
                f"{side} trade of {instrument.quantity_of(event[4])} at "
                f"{instrument.price_of(event[3])}"
            )
        most = units_to_decimal(COUNTERPARTY_FUNDS)
        message = (
            f"the recorded market is larger than the backtest can replay: at event {index + 1} "
            f"({iso_from_micros(event[0])}), the recorded {what} needs more {asset or 'funds'} "
            f"than {name} ({ROLES[name]}) holds; it starts with {most} of each asset, a "
            "quarter of the most the engine's ledger holds. Check the data's prices and "
            "quantities (a scale or unit off?), or backtest the data before that event"
        )
        details = {
            "parameter": "data",
            "event": index + 1,
            "timestamp": iso_from_micros(event[0]),
            "account": name,
        }
        if asset:
            details["asset"] = asset
        return CounterpartyExhausted(message, details)

    # -------------------------------------------------------------- the recorded book
    def set_level(self, side: int, ticks: int, lots: int) -> None:
        """Make the mirror's resting quantity at (side, ticks) equal the recorded `lots`."""
        self.liquidity.set_level(side, ticks, lots, self.clock.micros)

    def _held(self, side: int, ticks: int) -> int:
        return sum(o.remaining for o in self.liquidity.orders_at(side, ticks))

    def book(self, reset: bool | FeedState, bids: tuple, asks: tuple) -> None:
        liquidity = self.liquidity
        if reset:
            if reset is not True:  # the recorded feed's state (a book_status)
                self.feed_state(reset)  # type: ignore[arg-type]  # not True: a FeedState
                return
            # A snapshot: first the mirror's levels it no longer has go; it resumes a halt.
            bids = (*self._gone(BUY, bids), *bids)
            asks = (*self._gone(SELL, asks), *asks)
            liquidity.set_book(bids, asks, self.clock.micros)
            if self.halted is not None:
                self.feed_state(FeedState(True, None))
            return
        liquidity.set_book(bids, asks, self.clock.micros)

    def feed_state(self, state: FeedState) -> None:
        """The recorded feed went down (halt, with its reason) or is whole again (resume)."""
        halts, index = self.exchange.halts, self.instrument.index
        if state.valid:
            self.halted = None
            halts.pop(index, None)
        else:
            self.halted = state.reason or "the recorded feed was down"
            halts[index] = self.halted

    def _gone(self, side: int, levels: tuple) -> list[tuple[int, int]]:
        keep = {t for t, _ in levels}
        return [(t, 0) for t in self.liquidity.prices(side) if t not in keep]

    # -------------------------------------------------------------- recorded trades
    def trade(self, side: int, ticks: int, lots: int) -> None:
        """A recorded print: the aggressor `side` took `lots` at `ticks`, through the engine."""
        if self.halted is not None:  # the feed was down: printed, never met (as live)
            record_print(self.exchange, self.instrument, side, ticks, lots)
            return
        book = self._book
        if side == SELL:  # the stale better levels go when the print reaches the strategy
            best = book.best_bid()
            if best is not None and best > ticks:
                clear_the_way(self.liquidity, BUY, ticks, self.clock.micros)
        else:
            best = book.best_ask()
            if best is not None and best < ticks:
                clear_the_way(self.liquidity, SELL, ticks, self.clock.micros)
        self.exchange.place(self.tape, self.instrument, side, lots, ticks, IOC)

    def strategy_joined(self, side: int, ticks: int) -> None:
        """A strategy order came to rest at (side, ticks). Trades-only data: its queue ahead is
        estimated (prints.py). A recording, `touch` model: the mirror's orders at that level go
        behind it."""
        if self.prints.strategy is not None:
            self.prints.joined(side, ticks)
            return
        if not self.touch:
            return
        orders = self.liquidity.orders_at(side, ticks)
        if orders:
            lots = sum(o.remaining for o in orders)
            now = self.clock.micros
            for order in orders:
                self.liquidity.remove(order, now)
            self.set_level(side, ticks, lots)
            self.liquidity.publish()
