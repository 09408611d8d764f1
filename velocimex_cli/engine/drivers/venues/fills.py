"""A venue's trade meeting users' orders: the fill model of venue prints, one for the live
mirror and the backtests (core/venue_prints.py says it; see also mirror.py's docstring).

`take_print` takes a print through the book with the tape account's IOC of the print's size at
its price when it reaches a price where a user's order rests: at the print's price the
liquidity ahead of the order trades first, so the order fills only after the volume ahead of
it, and a print that does not reach it never fills it. A print at a price says the venue's
better levels were already gone when it traded (a venue prints each price a sweep takes): the
venue's liquidity there goes first (`venue_prints.clear_the_way`, as the book replay of a
backtest does), so users' orders there, which the print went through, fill first, up to the
print's size. The venue's liquidity the IOC took, and that at the better levels, is put back
behind the queue at once: the level's size is the venue's book's to say, so the trade and the
book change after it never count the same liquidity twice. `in_book` says when a print is
already in the last book message (its exchange time is not after the book's): it then moves no
queue.
"""

from __future__ import annotations

from datetime import datetime

from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, IOC, SELL
from velocimex_cli.engine.core.venue_prints import clear_the_way


def in_book(printed: datetime | None, book_time: datetime | None) -> bool:
    """Whether the last book message already holds a print (its time is not before it)."""
    return printed is not None and book_time is not None and printed <= book_time


def take_print(
    tape: Account, liquidity: Liquidity, taker: int, ticks: int, lots: int, now: int
) -> int:
    """A print of `lots` at `ticks` (the aggressor on `taker`) through the users' orders it
    reaches; the lots it did not trade (to be printed only). All of them when it reaches no
    user's order."""
    passive = SELL if taker == BUY else BUY
    held = clear_the_way(liquidity, passive, ticks, now)
    if held is None:
        return lots
    order, _ = liquidity.exchange.place(tape, liquidity.instrument, taker, lots, ticks, IOC)
    before = liquidity.watch()
    for price, size in held.items():  # the venue's sizes are its book's to change
        liquidity.set_level(passive, price, size, now)
    liquidity.announce(before, now)
    return lots - order.filled
