"""A real venue's trade (a print) in the engine: where it reaches the orders resting in the
mirror of the venue's book, and, when it meets none of them, printed on the engine's tape.

**The fill model of a venue's print**, one for the live mirror (engine/drivers/venues/fills.py)
and the backtests' book replay (engine/backtest/market.py); the trades-only replay
(engine/backtest/prints.py) applies the same rule to a book it infers from the prints. A
resting order fills when trades print through its price, after the volume ahead of it, and a
print never fills more than its own size:

- a print at P takes the book's queue at P in price-time priority: the venue's liquidity
  ahead of an order at P first, then the order;
- a print at P says the venue's levels better than P were gone when it traded (a venue prints
  each price a sweep takes), so when an order other than the mirror's rests in the print's
  reach, the mirror's liquidity at the better levels goes before it (`clear_the_way`): the
  print is never spent on liquidity the venue no longer had. An order at a better price,
  which the print went through, has nothing ahead of it and fills first, up to the print's
  size; what is left of the print then meets the queue at P.

The print's size bounds what it fills because it is the volume that traded: the venue's
aggressor gave at least that much, and nothing says it would have given more to an order it
never saw.

A mirrored venue's trade that meets none of the engine's users' orders still happened: it
belongs on the public trades stream, in the ticker's last price and volume, and in the stored
trades (the candles are built from them) exactly as a simulated trade does. `record_print` is
that command: one trade id, the market statistics, the stored trade row and the TradeEvent
(with the ticker that follows a trade), and no order, fill or balance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.orders import BUY

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.liquidity import Liquidity

REACH_LEVELS = 64  # how deep a print is looked through for orders other than the mirror's


def clear_the_way(
    liquidity: Liquidity, passive: int, ticks: int, now: int
) -> dict[int, int] | None:
    """Before a print at `ticks` takes `passive` orders: the mirror's (`liquidity`'s) sizes at
    the levels of `passive` it reaches (from the best to `ticks`), when another account's order
    rests at one of them, its liquidity at the levels better than `ticks` gone (the model
    above; the change announced as a book delta where a listener wants one). None, nothing
    changed, when no other account's order is in reach."""
    book = liquidity.book
    name = liquidity.account.name
    held: dict[int, int] = {}
    others = False
    for price, _ in book.depth(passive, REACH_LEVELS):
        if (price < ticks) if passive == BUY else (price > ticks):
            break
        size = 0
        for order in book.level_orders(passive, price):
            if order.account == name:
                size += order.remaining
            else:
                others = True
        held[price] = size
    if not others:
        return None
    better = [price for price, size in held.items() if price != ticks and size]
    if better:
        before = liquidity.watch()
        for price in better:
            liquidity.set_level(passive, price, 0, now)
        liquidity.announce(before, now)
    return held


def record_print(
    exchange: ExchangeState, instrument: Instrument, taker_side: int, ticks: int, lots: int
) -> int:
    """Print a trade of `lots` at `ticks` (the aggressor on `taker_side`); its trade id."""
    if exchange.storage_refusal is not None:
        raise exchange.unstored("not printed")
    index = instrument.index
    now = exchange._begin()
    exchange._touch_book(index, exchange.books[index])
    trade_id = exchange.next_trade_id
    exchange.next_trade_id = trade_id + 1
    exchange.stats[index].record(now, ticks, lots)
    changes = exchange._changes
    if changes is not None:
        changes.trades.append((trade_id, index, ticks, lots, now))
    events = exchange._events
    if events is not None:
        exchange._traded.add(index)
        if exchange._trade_events:
            events.append(TradeEvent(instrument, trade_id, ticks, lots, taker_side, now))
    exchange._finish()
    return trade_id
