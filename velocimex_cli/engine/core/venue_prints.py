"""A real venue's trade printed on the engine's tape, without matching anything.

A mirrored venue's trade that meets none of the engine's users' orders still happened: it
belongs on the public trades stream, in the ticker's last price and volume, and in the stored
trades (the candles are built from them) exactly as a simulated trade does. `record_print` is
that command: one trade id, the market statistics, the stored trade row and the TradeEvent
(with the ticker that follows a trade), and no order, fill or balance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import TradeEvent

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.instruments import Instrument


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
