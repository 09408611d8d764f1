"""The strategy's values built from the engine's event payloads and books.

Shared by the in-process host and a host in another process (the node's worker): both turn
the same wire dicts into the same `OrderInfo`, `FillInfo`, `TradeTick` and `BookTop`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.strategies.context import (
    BookTop,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    TradeTick,
)

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument


def instrument_spec(instrument: Instrument) -> InstrumentSpec:
    return InstrumentSpec(
        exchange=instrument.venue.name,
        symbol=instrument.symbol,
        base=instrument.base,
        quote=instrument.quote,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        min_quantity=instrument.min_quantity,
    )


def order_info(order: Mapping[str, Any], event: str = "") -> OrderInfo:
    """An OrderInfo from the wire's Order dict (as OrderEvent and place_order carry it)."""
    return OrderInfo(
        order_id=order["order_id"],
        client_order_id=order["client_order_id"],
        exchange=order["exchange"],
        symbol=order["symbol"],
        side=order["side"],
        type=order["type"],
        time_in_force=order["time_in_force"],
        post_only=order["post_only"],
        quantity=order["quantity"],
        price=order["price"],
        filled_quantity=order["filled_quantity"],
        average_price=order["average_price"],
        status=order["status"],
        reason=order["reason"],
        event=event,
    )


def fill_info(fill: Mapping[str, Any]) -> FillInfo:
    return FillInfo(
        trade_id=fill["trade_id"],
        order_id=fill["order_id"],
        client_order_id=fill["client_order_id"],
        exchange=fill["exchange"],
        symbol=fill["symbol"],
        side=fill["side"],
        price=fill["price"],
        quantity=fill["quantity"],
        fee=fill["fee"],
        fee_asset=fill["fee_asset"],
        liquidity=fill["liquidity"],
        timestamp=datetime.fromisoformat(fill["timestamp"]),
    )


def trade_tick(trade: Mapping[str, Any]) -> TradeTick:
    return TradeTick(
        exchange=trade["exchange"],
        symbol=trade["symbol"],
        trade_id=trade["trade_id"],
        price=trade["price"],
        quantity=trade["quantity"],
        side=trade["side"],
        timestamp=datetime.fromisoformat(trade["timestamp"]),
    )


def book_top(exchange: Exchange, instrument: Instrument, timestamp: datetime) -> BookTop:
    """The book's top as it is now."""
    book = exchange.books[instrument.index]
    bid, ask = book.best_bid(), book.best_ask()
    price_of, quantity_of = instrument.price_of, instrument.quantity_of
    return BookTop(
        exchange=instrument.venue.name,
        symbol=instrument.symbol,
        sequence=book.sequence,
        bid=None if bid is None else price_of(bid),
        bid_quantity=None if bid is None else quantity_of(book.level_quantity(BUY, bid)),
        ask=None if ask is None else price_of(ask),
        ask_quantity=None if ask is None else quantity_of(book.level_quantity(SELL, ask)),
        timestamp=timestamp,
    )


__all__ = ["book_top", "fill_info", "instrument_spec", "order_info", "trade_tick"]
