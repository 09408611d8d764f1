"""Simulated markets: a seeded fair-price walk per instrument, a market maker that keeps each
book at least `depth` levels deep per side, and takers that trade against it.

Participants are ordinary accounts (kind "simulated") funded explicitly, and they trade through
the same order entry as users (`Exchange.submit` validates and matches exactly like
`place_order`), so they never edit a book directly: when the fair price moves through a user's
resting order, the maker's re-quote or a taker's order fills it like any other counterparty.

Everything is integer ticks and lots; the only randomness is this module's `random.Random(seed)`,
so the same seed and the same clock give the same sequence of events.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from decimal import Decimal

from velocimex_cli.engine.core import hours
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument
from velocimex_cli.engine.core.ledger import Account, AccountKind
from velocimex_cli.engine.core.locks import locked_asset
from velocimex_cli.engine.core.orders import BUY, SELL

MAKER = "sim-maker"
TAKER = "sim-taker"
STATE_KEY = "simulator"

# Funding per asset for each participant, topped up when it runs below a quarter of it.
PARTICIPANT_FUNDS = {"USD": 10**9, "USDT": 10**9, "BTC": 10**5, "ETH": 10**6, "SOL": 10**7}
EQUITY_FUNDS = 10**7

VOLATILITY_BPS = 2  # typical fair-price move per step, in basis points
HALF_SPREAD_BPS = 2
LEVEL_STEP_BPS = 1
TAKER_PROBABILITY = 0.35
DEPTH = 25  # the maker's levels per side
QUOTE_SIZE = (2, 20)  # a maker level is worth 2..20 thousand units of the quote asset
TAKE_SIZE = (1, 8)  # a taker's order, likewise


# The participants' rules, shared with the backtest's generator (backtest/generate.py), which
# replays them for one instrument without the exchange around them.
def initial_fair(instrument: Instrument) -> int:
    return instrument.ticks_of(instrument.reference_price) or 1


def reference_ticks(instrument: Instrument) -> int | None:
    """The price the fair walk reverts towards (None: off the tick grid, no reversion)."""
    return instrument.ticks_of(instrument.reference_price)


def next_fair(rng: random.Random, fair: int, reference: int | None) -> int:
    """One step of the fair-price walk (one draw from `rng`)."""
    reference = reference or fair
    spread = max(1, fair * VOLATILITY_BPS // 10_000)
    move = rng.randint(-spread, spread)
    # Mean reversion keeps prices at a realistic scale over long runs.
    if fair > reference * 12 // 10:
        move -= spread // 2 + 1
    elif fair < reference * 8 // 10:
        move += spread // 2 + 1
    return max(10, fair + move)


def ladder(fair: int, depth: int) -> frozenset[tuple[int, int]]:
    """The maker's wanted (side, price) levels around `fair`, on a fixed price grid: `depth`
    per side from the best grid price at least half a spread away from fair."""
    step = max(1, fair * LEVEL_STEP_BPS // 10_000)
    half = max(1, fair * HALF_SPREAD_BPS // 10_000)
    top_bid = (fair - half) // step * step
    top_ask = -(-(fair + half) // step) * step
    return _grid(top_bid, top_ask, step, depth)


@functools.lru_cache(maxsize=512)
def _grid(top_bid: int, top_ask: int, step: int, depth: int) -> frozenset[tuple[int, int]]:
    # A walk keeps coming back to the grids it has just left: the last 512 (~5 kB each) are
    # kept, 99% of a simulated day's steps find theirs there.
    return frozenset(
        [(BUY, top_bid - step * level) for level in range(depth) if top_bid > step * level]
        + [(SELL, top_ask + step * level) for level in range(depth)]
    )


def order_lots(rng: random.Random, fair: int, instrument: Instrument, low: int, high: int) -> int:
    """Lots worth roughly `low`..`high` thousand units of the quote asset (one draw)."""
    notional = rng.randint(low, high) * 1000 * LEDGER_SCALE
    return max(instrument.min_lots, notional // (fair * instrument.notional_units))


class MarketSimulator:
    def __init__(
        self,
        exchange: Exchange,
        seed: int = 42,
        depth: int = DEPTH,
        instruments: Sequence[Instrument] | None = None,
    ) -> None:
        """`instruments`: the markets to make (default: every instrument of the catalogue).
        One random stream serves them in catalogue order, so a market depends on which
        others are made: `vmx backtest --simulate` makes one alone (backtest/generate.py)."""
        self.exchange = exchange
        self.depth = depth
        self.rng = random.Random(seed)
        catalogue = exchange.catalogue.instruments
        self.instruments = list(catalogue if instruments is None else instruments)
        self.fair: list[int] = [initial_fair(i) for i in catalogue]
        self._reference = [reference_ticks(i) for i in catalogue]
        self.steps = 0
        self.maker = self._participant(MAKER)
        self.taker = self._participant(TAKER)
        self._load_state()

    # ------------------------------------------------------------------ participants
    def _participant(self, name: str) -> Account:
        exchange = self.exchange
        exchange.ensure_account(name, AccountKind.SIMULATED)
        account = exchange.account(name)
        for asset in exchange.catalogue.assets():
            self._top_up(account, asset)
        return account

    def _top_up(self, account: Account, asset: str) -> None:
        target = PARTICIPANT_FUNDS.get(asset, EQUITY_FUNDS) * LEDGER_SCALE
        available = account.available(asset)
        if available < target // 4:
            self.exchange.fund(account.name, asset, Decimal(target - available) / LEDGER_SCALE)

    # ------------------------------------------------------------------ persistence
    def _load_state(self) -> None:
        saved = self.exchange.load_meta(STATE_KEY)
        if saved is None:
            return
        state = json.loads(saved)
        self.fair = state["fair"]
        self.steps = state["steps"]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))

    def save_state(self) -> None:
        state = {"fair": self.fair, "steps": self.steps, "rng": self.rng.getstate()}
        self.exchange.save_meta(STATE_KEY, json.dumps(state))

    def close(self) -> None:
        """The node closes: keep the state a restart carries on from."""
        self.save_state()

    # ------------------------------------------------------------------ driving
    def seed_books(self) -> None:
        """Fill every open book to `depth` levels per side (idempotent)."""
        for instrument in self.instruments:
            if self._is_open(instrument):
                self._quote(instrument)

    def step(self) -> None:
        """One tick: move each fair price, re-quote, and let takers trade."""
        self.steps += 1
        for instrument in self.instruments:
            self._move_fair(instrument)
            if not self._is_open(instrument):
                continue
            self._quote(instrument)
            if self.rng.random() < TAKER_PROBABILITY:
                self._take(instrument)
        if self.steps % 50 == 0:
            self.save_state()

    def _is_open(self, instrument: Instrument) -> bool:
        exchange = self.exchange
        return hours.is_open(
            instrument.venue, exchange.clock(), always_open=exchange.config.always_open
        )

    def _move_fair(self, instrument: Instrument) -> None:
        index = instrument.index
        self.fair[index] = next_fair(self.rng, self.fair[index], self._reference[index])

    def _quote(self, instrument: Instrument) -> None:
        """Keep the maker's ladder on a fixed price grid: `depth` levels per side from the
        best grid price at least half a spread away from fair. Quotes now on the wrong side
        of fair, or too deep, are canceled; missing levels are added."""
        wanted = ladder(self.fair[instrument.index], self.depth)
        held: set[tuple[int, int]] = set()
        for order in list(self.maker.orders.values()):
            if order.instrument is not instrument or not order.resting:
                continue
            key = (order.side, order.price)
            if key in wanted and key not in held:
                held.add(key)
            else:
                self.exchange.cancel_live(self.maker, order)
        for side, price in sorted(wanted - held):
            self._order(self.maker, instrument, side, price, self._size(instrument, *QUOTE_SIZE))

    def _take(self, instrument: Instrument) -> None:
        side = BUY if self.rng.random() < 0.5 else SELL
        self._order(self.taker, instrument, side, None, self._size(instrument, *TAKE_SIZE))

    def _size(self, instrument: Instrument, low: int, high: int) -> int:
        return order_lots(self.rng, self.fair[instrument.index], instrument, low, high)

    def _order(
        self, account: Account, instrument: Instrument, side: int, price: int | None, lots: int
    ) -> None:
        self._top_up(account, locked_asset(instrument, side))
        self.exchange.place(account, instrument, side, lots, price)
