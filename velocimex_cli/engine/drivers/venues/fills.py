"""A venue's trade meeting users' orders: the queue model (see mirror.py's docstring).

`take_print` takes a print through the book with the tape account's IOC when it reaches a
price where a user's order rests: at the print's price the liquidity ahead of the order trades
first, so the order fills only after the volume ahead of it, and a print that does not reach it
never fills it. A print at a price says the venue's better levels were already gone when it
traded (a venue prints each price a sweep takes): the venue's liquidity there is not met (it
would spend the print on liquidity the venue no longer had, starving the order until the next
book change), and users' orders there, which the print went through, fill in full.
The venue's liquidity the IOC took is put back behind the queue at once: the level's size is
the venue's book's to say, so the trade and the book change after it never count the same
liquidity twice. `in_book` says when a print is already in the last book message (its exchange
time is not after the book's): it then moves no queue.
"""

from __future__ import annotations

from datetime import datetime

from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, IOC, SELL

REACH_LEVELS = 64  # how deep a print is looked through for users' orders


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
    held = reached(liquidity, passive, ticks)
    if held is None:
        return lots
    # A print at `ticks` says the venue's better levels were gone when it traded: the IOC
    # must not spend the print on them. Users' orders there it reached in full.
    name = liquidity.account.name
    through = 0
    before = liquidity.watch()
    for price in held:
        if price != ticks:
            through += sum(
                o.remaining
                for o in liquidity.book.level_orders(passive, price)
                if o.account != name
            )
            liquidity.set_level(passive, price, 0, now)
    liquidity.announce(before, now)
    order, _ = liquidity.exchange.place(
        tape, liquidity.instrument, taker, lots + through, ticks, IOC
    )
    before = liquidity.watch()
    for price, size in held.items():  # the venue's sizes are its book's to change
        liquidity.set_level(passive, price, size, now)
    liquidity.announce(before, now)
    return lots - max(0, order.filled - through)


def reached(liquidity: Liquidity, side: int, ticks: int) -> dict[int, int] | None:
    """The venue's sizes at the levels of `side` a print at `ticks` reaches, when a user's
    order rests there; None when none does."""
    book = liquidity.book
    name = liquidity.account.name
    held: dict[int, int] = {}
    users = False
    for price, _ in book.depth(side, REACH_LEVELS):
        if (price < ticks) if side == BUY else (price > ticks):
            break
        size = 0
        for order in book.level_orders(side, price):
            if order.account == name:
                size += order.remaining
            else:
                users = True
        held[price] = size
    return held if users else None
