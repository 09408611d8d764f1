"""The strategy's values built from the engine's event payloads and books.

Shared by the in-process host and a host in another process (the node's worker): both turn
the same wire dicts into the same `OrderInfo`, `FillInfo` and `BookTop`; a `TradeTick` is built
from the engine's `TradeEvent` itself, in the process that holds it.

They are built per event, so straight from a tuple of the fields in order with
`tuple.__new__`: what a named tuple's own constructor does after binding its arguments, which
costs about a third of the whole. The TradeTick, built for every trade a strategy's on_trade
takes (each print of a trades-only backtest), is built by the C core when it is there
(event_values.c follows `_trade_tick` step by step, with the same kept values); `_trade_tick`
is the reference and the pure-Python path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.orders import BUY, NATIVE, SELL, SIDE_NAMES
from velocimex_cli.engine.drivers.strategies.context import (
    BookTop,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    TradeTick,
)

if TYPE_CHECKING:
    from velocimex_cli.engine.core.events import TradeEvent
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument

_new = tuple.__new__
_moment = datetime.fromisoformat
_datetime = datetime
# (micros, its datetime) of the last trade_tick, (seconds, their fields to the second) of its
# second
_last_moment: list[Any] = [None, None, None, ()]
_from_seconds = datetime.fromtimestamp
# By instrument index: (the instrument, its exchange's name, its symbol, its prices by ticks,
# its sizes by lots).
_values: dict[int, tuple[Instrument, str, str, dict[int, Decimal], dict[int, Decimal]]] = {}
_CACHED = 100_000  # values kept per instrument and kind before the cache starts again


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
    return _new(
        OrderInfo,
        (
            order["order_id"],
            order["client_order_id"],
            order["exchange"],
            order["symbol"],
            order["side"],
            order["type"],
            order["time_in_force"],
            order["post_only"],
            order["quantity"],
            order["price"],
            order["filled_quantity"],
            order["average_price"],
            order["status"],
            order["reason"],
            event,
        ),
    )


def fill_info(fill: Mapping[str, Any]) -> FillInfo:
    return _new(
        FillInfo,
        (
            fill["trade_id"],
            fill["order_id"],
            fill["client_order_id"],
            fill["exchange"],
            fill["symbol"],
            fill["side"],
            fill["price"],
            fill["quantity"],
            fill["fee"],
            fill["fee_asset"],
            fill["liquidity"],
            _moment(fill["timestamp"]),
        ),
    )


def _instrument_values(instrument: Instrument) -> tuple[Any, ...]:
    """What `_trade_tick` keeps for an instrument, kept from now on (by its index: a
    replaced instrument's are started again)."""
    values = _values[instrument.index] = (
        instrument, instrument.venue.name, instrument.symbol, {}, {}
    )  # fmt: skip
    return values


def _trade_tick(trade: TradeEvent) -> TradeTick:
    """A TradeTick from the engine's trade as it is (not from its wire dict): the same values
    `trade.trade` carries, without the dict. Its prices and sizes are kept per instrument (a
    market trades at few prices), and its time as the last one (a command's trades share it):
    the datetime is built from its second's fields (kept: a market trades many times a
    second) and the microseconds, half the time of adding a timedelta to the second's
    datetime (whose constructor normalises every argument) and less than parsing ISO text."""
    instrument = trade.instrument
    cache = _values.get(instrument.index)
    if cache is None or cache[0] is not instrument:
        cache = _instrument_values(instrument)
    prices, sizes = cache[3], cache[4]
    price = prices.get(trade.price)
    if price is None:
        if len(prices) > _CACHED:
            prices.clear()
        price = prices[trade.price] = instrument.price_of(trade.price)
    size = sizes.get(trade.lots)
    if size is None:
        if len(sizes) > _CACHED:
            sizes.clear()
        size = sizes[trade.lots] = instrument.quantity_of(trade.lots)
    micros = trade.micros
    moment = _last_moment
    if moment[0] != micros:
        second, fraction = divmod(micros, 1_000_000)
        if moment[2] != second:
            moment[2], moment[3] = second, _from_seconds(second, UTC).timetuple()[:6]
        year, month, day, hour, minute, seconds = moment[3]
        moment[0] = micros
        moment[1] = _datetime(year, month, day, hour, minute, seconds, fraction, UTC)
    return _new(
        TradeTick,
        (
            cache[1],
            cache[2],
            str(trade.trade_id),
            price,
            size,
            SIDE_NAMES[trade.side],
            moment[1],
        ),
    )


trade_tick: Callable[[TradeEvent], TradeTick] = _trade_tick
if NATIVE:
    from velocimex_cli.engine.core import _native
    from velocimex_cli.engine.core.events import TradeEvent
    from velocimex_cli.engine.core.instruments import Instrument

    _native._configure_ticks(
        TradeTick, _values, _instrument_values, SIDE_NAMES, UTC, _from_seconds, _CACHED,
        TradeEvent, Instrument,
    )  # fmt: skip
    trade_tick = _native.trade_tick


def book_top(exchange: Exchange, instrument: Instrument, timestamp: datetime) -> BookTop:
    """The book's top as it is now."""
    book = exchange.book(instrument)
    bid, ask = book.best_bid(), book.best_ask()
    price_of, quantity_of = instrument.price_of, instrument.quantity_of
    return _new(
        BookTop,
        (
            instrument.venue.name,
            instrument.symbol,
            book.sequence,
            None if bid is None else price_of(bid),
            None if bid is None else quantity_of(book.level_quantity(BUY, bid)),
            None if ask is None else price_of(ask),
            None if ask is None else quantity_of(book.level_quantity(SELL, ask)),
            timestamp,
        ),
    )


__all__ = ["book_top", "fill_info", "instrument_spec", "order_info", "trade_tick"]
