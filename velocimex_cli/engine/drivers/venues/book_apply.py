"""A venue's book levels applied to the engine's book as the venue account's liquidity.

`set_levels` makes the account's resting quantity at each given level the venue's size: one
C call (`Liquidity.set_book`) when nothing in the batch crosses the book, which is nearly
always; else level by level, removals first, where a level that crosses the venue's own
liquidity on the other side removes it (it is stale: the venue's book is never crossed) and
one that crosses users' orders is placed and trades with them at their prices, as the venue's
order would have met them (a command of its own). The batch's book delta and ticker go out as
a command's would (`Liquidity.watch`/`announce`), one sequence step each.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.venues.feed import Level, Number, exact

Watching = tuple[int | None, int | None] | None  # what Liquidity.watch returned

# Below this, an integer count of a step's numerator has at most 15 significant digits, so
# the decimal it makes is the only one of that many digits that rounds to its float (IEEE
# doubles tell 15 digits apart): a float equal to it stands for exactly that decimal.
_EXACT_DIGITS = 10**15


def _fraction(step: Decimal) -> tuple[int, int]:
    """`step` as numerator / denominator, the denominator a power of ten."""
    _, digits, exponent = step.as_tuple()
    assert isinstance(exponent, int)
    numerator = int("".join(map(str, digits)))
    if exponent >= 0:
        return numerator * 10**exponent, 1
    return numerator, 10**-exponent


class _Grid:
    """An instrument's tick and lot, for turning a venue's numbers into ticks and lots."""

    __slots__ = ("lot", "lot_den", "lot_num", "tick", "tick_den", "tick_num")

    def __init__(self, tick: Decimal, lot: Decimal) -> None:
        self.tick, self.lot = tick, lot
        self.tick_num, self.tick_den = _fraction(tick)
        self.lot_num, self.lot_den = _fraction(lot)

    def ticks(self, price: Number) -> int | None:
        """The price in ticks; None when it is off the tick."""
        if type(price) is float:
            num, den = self.tick_num, self.tick_den
            try:
                count = round(price * den / num)
            except (OverflowError, ValueError):  # inf, nan: the decimal path says
                count = None
            # (int / int is correctly rounded: the float nearest the decimal count * step)
            if (
                count is not None
                and abs(count * num) < _EXACT_DIGITS
                and count * num / den == price
            ):
                return count
        ticks = exact(price) / self.tick
        if ticks != ticks.to_integral_value():
            return None
        return int(ticks)

    def lots(self, quantity: Number) -> int:
        """The quantity in whole lots, cut (not rounded) to the lot."""
        if type(quantity) is float:
            num, den = self.lot_num, self.lot_den
            try:
                count = round(quantity * den / num)
            except (OverflowError, ValueError):
                count = None
            if (
                count is not None
                and 0 <= count * num < _EXACT_DIGITS
                and count * num / den == quantity
            ):
                return count
        return int(exact(quantity) / self.lot)


_grids: dict[tuple[Decimal, Decimal], _Grid] = {}


def levels_of(instrument: Instrument, levels: Sequence[Level]) -> list[tuple[int, int]]:
    """(ticks, lots) of a venue's levels; a price off the tick is skipped, a size is cut to
    whole lots."""
    key = (instrument.tick_size, instrument.lot_size)
    grid = _grids.get(key)
    if grid is None:
        grid = _grids[key] = _Grid(*key)
    ticks_of, lots_of = grid.ticks, grid.lots
    out = []
    for price, quantity in levels:
        ticks = ticks_of(price)
        if ticks is not None:
            out.append((ticks, lots_of(quantity)))
    return out


def set_levels(
    liquidity: Liquidity, bids: list[tuple[int, int]], asks: list[tuple[int, int]], now: int
) -> None:
    """Make the venue's liquidity at these levels these sizes, and publish the change."""
    book = liquidity.book
    top_bid = max((t for t, lots in bids if lots), default=None)
    top_ask = min((t for t, lots in asks if lots), default=None)
    best_ask, best_bid = book.best_ask(), book.best_bid()
    crosses = (top_bid is not None and best_ask is not None and top_bid >= best_ask) or (
        top_ask is not None and best_bid is not None and top_ask <= best_bid
    )
    before = liquidity.watch()
    if not crosses:
        liquidity.set_book(bids, asks, now)
        liquidity.announce(before, now)
        return
    # Level by level (`set_level` leaves publishing to `announce`, so the batch is one
    # sequence step): what goes first, then the rest.
    for side, levels in ((BUY, bids), (SELL, asks)):
        for ticks, lots in levels:
            if not lots:
                liquidity.set_level(side, ticks, 0, now)
    for side, levels in ((BUY, bids), (SELL, asks)):
        for ticks, lots in levels:
            if lots:
                before = _crossing_level(liquidity, side, ticks, lots, now, before)
    liquidity.announce(before, now)


def _crossing_level(
    liquidity: Liquidity, side: int, ticks: int, lots: int, now: int, before: Watching
) -> Watching:
    """One level of a batch that may cross the book; the `watch` state after it."""
    book = liquidity.book
    if book.crosses(side, ticks):
        other = SELL if side == BUY else BUY
        for price in liquidity.prices(other):  # the venue's own stale liquidity goes
            if (price <= ticks) if side == BUY else (price >= ticks):
                liquidity.set_level(other, price, 0, now)
        if book.crosses(side, ticks):  # users' orders: they trade, as a command
            liquidity.announce(before, now)
            liquidity.set_level(side, ticks, lots, now)
            return liquidity.watch()
    liquidity.set_level(side, ticks, lots, now)
    return before
