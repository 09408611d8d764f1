"""The engine's read-only queries and the wire shapes they answer.

Markets (instruments, market status, order book, tickers), an account's orders and fills
(paged, newest first), balances, positions and totals, and the wire dicts of an order and a
fill. Nothing here changes state; the `Exchange` facade resolves the account and the clock and
calls these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, cast

from velocimex_cli.engine.core import hours
from velocimex_cli.engine.core.book import OrderBook
from velocimex_cli.engine.core.events import BookEvent
from velocimex_cli.engine.core.fees import fraction_of
from velocimex_cli.engine.core.instruments import Catalogue, Instrument
from velocimex_cli.engine.core.ledger import Account, units_to_decimal
from velocimex_cli.engine.core.market_stats import MarketStats
from velocimex_cli.engine.core.orders import (
    BUY,
    LIMIT,
    NATIVE,
    SELL,
    SIDE_NAMES,
    WIRE_NAME,
    Order,
    Status,
)
from velocimex_cli.engine.core.paging import Page
from velocimex_cli.wire.errors import InvalidParameter, NotFound
from velocimex_cli.wire.streams import CHECKSUM_DEPTH, book_checksum_scaled, scaled_multiplier
from velocimex_cli.wire.timefmt import iso, iso_from_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.fills import FillRecord

CLIENT_ID_PREFIX = "client_order_id:"
LIST_STATUSES = {
    "open": (Status.OPEN, Status.PARTIALLY_FILLED),
    "filled": (Status.FILLED,),
    "canceled": (Status.CANCELED,),
    "rejected": (Status.REJECTED,),
    "all": tuple(Status),
}
MAX_LIST_LIMIT = 1000


# ---------------------------------------------------------------------- markets
def instruments(
    catalogue: Catalogue,
    exchange: str | None,
    now: datetime,
    always_open: bool,
    halts: Mapping[int, str] | None = None,
    fee_rates: tuple[int, int] = (0, 0),
) -> list[dict[str, Any]]:
    """The catalogue's rows; a mirrored instrument whose feed is down is `halted`. Each row's
    (extension) `maker_fee`/`taker_fee` are fractions (0.0002 = 2 bps): the instrument's own
    rates where it has them (a mirrored venue's, `fee_source` "venue"), else `fee_rates`
    (maker, taker; the exchange-wide rates in fees.RATE_UNITs; `fee_source` "engine")."""
    venue = catalogue.venue(exchange) if exchange is not None else None
    maker_fee, taker_fee = (fraction_of(rate) for rate in fee_rates)
    return [
        {
            "exchange": i.venue.name,
            "symbol": i.symbol,
            "base": i.base,
            "quote": i.quote,
            "tick_size": i.tick_size,
            "lot_size": i.lot_size,
            "min_quantity": i.min_quantity,
            "min_notional": i.min_notional,
            "status": "halted"
            if halts and i.index in halts
            else "open"
            if hours.is_open(i.venue, now, always_open=always_open)
            else "closed",
            "maker_fee": maker_fee if i.maker_fee is None else i.maker_fee,
            "taker_fee": taker_fee if i.taker_fee is None else i.taker_fee,
            "fee_source": "engine" if i.taker_fee is None else "venue",
        }
        for i in catalogue.instruments
        if venue is None or i.venue is venue
    ]


def market_status(catalogue: Catalogue, now: datetime, always_open: bool) -> list[dict[str, Any]]:
    stamp = iso(now)
    return [
        {
            "exchange": venue.name,
            "status": "open" if hours.is_open(venue, now, always_open=always_open) else "closed",
            "last_update": stamp,
        }
        for venue in catalogue.venues.values()
    ]


def order_book(
    instrument: Instrument, book: OrderBook, depth: object, now: datetime
) -> dict[str, Any]:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 1000:
        raise InvalidParameter("depth", depth, "depth must be a whole number from 1 to 1000")
    price_of, quantity_of = instrument.price_of, instrument.quantity_of
    return {
        "exchange": instrument.venue.name,
        "symbol": instrument.symbol,
        "timestamp": iso(now),
        "sequence": book.sequence,
        "bids": [
            {"price": price_of(p), "quantity": quantity_of(q)} for p, q in book.depth(BUY, depth)
        ],
        "asks": [
            {"price": price_of(p), "quantity": quantity_of(q)} for p, q in book.depth(SELL, depth)
        ],
    }


def ticker(instrument: Instrument, book: OrderBook, stats: MarketStats, now: int) -> dict[str, Any]:
    stats.expire(now)
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "timestamp": iso_from_micros(now),
        "exchange": instrument.venue.name,
        "symbol": instrument.symbol,
        "price": None if stats.last_price is None else instrument.price_of(stats.last_price),
        "volume": instrument.quantity_of(stats.volume),
        "bid": None if bid is None else instrument.price_of(bid),
        "ask": None if ask is None else instrument.price_of(ask),
    }


def book_event(instrument: Instrument, book: OrderBook, stamp: str) -> BookEvent:
    """The delta of one command on one book: each touched level's new quantity, and the
    checksum of the top of the book after it."""
    changes = []
    for side, price in sorted(book.touched or ()):
        changes.append(
            {
                "side": "bid" if side == BUY else "ask",
                "price": instrument.price_of(price),
                "quantity": instrument.quantity_of(book.level_quantity(side, price)),
            }
        )
    checksum = book_checksum_scaled(
        book.depth(BUY, CHECKSUM_DEPTH),
        book.depth(SELL, CHECKSUM_DEPTH),
        *_checksum_scales(instrument.tick_size, instrument.lot_size),
    )
    return BookEvent(
        instrument.venue.name, instrument.symbol, book.sequence, stamp, changes, checksum
    )


@functools.lru_cache(maxsize=256)
def _checksum_scales(tick_size: Decimal, lot_size: Decimal) -> tuple[int, int]:
    return scaled_multiplier(tick_size), scaled_multiplier(lot_size)


# ---------------------------------------------------------------------- an account's orders
def find_order(account: Account, order_id: object) -> Order:
    """An order of the account by id, or by `client_order_id:<id>`; NotFound otherwise."""
    text = str(order_id).strip()
    order: Order | None = None
    if text.startswith(CLIENT_ID_PREFIX):
        found = account.client_ids.get(text[len(CLIENT_ID_PREFIX) :])
        order = account.orders.get(found) if found is not None else None
    elif text.isascii() and text.isdigit() and len(text) <= 19:  # int() takes "²", "١"
        order = account.orders.get(int(text))
    if order is None:
        raise NotFound(f"No order {text!r} in this account", {"order_id": text})
    return order


def list_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIST_LIMIT:
        raise InvalidParameter("limit", limit, f"limit must be from 1 to {MAX_LIST_LIMIT}")
    return limit


def instrument_filter(
    catalogue: Catalogue, exchange: str | None, symbol: str | None
) -> Callable[[Instrument], bool]:
    if symbol is not None:
        if exchange is None:
            raise InvalidParameter("exchange", None, "a symbol filter needs an exchange")
        target = catalogue.find(exchange, symbol)
        return lambda i: i is target
    if exchange is not None:
        venue = catalogue.venue(exchange)
        return lambda i: i.venue is venue
    return lambda i: True


def order_history(
    catalogue: Catalogue,
    account: Account,
    status: str,
    exchange: str | None,
    symbol: str | None,
    limit: int,
    since: str | None,
    before: str | None,
) -> dict[str, Any]:
    """A page of the account's orders, newest first: {"orders", "total", "next_before"}.

    `since`/`before` are each an ISO-8601 time (created at or after / strictly before) or
    an order id (orders after / before that one). `total` counts every order matching the
    filters, `next_before` is the `before` of the next page (None on the last page).
    """
    statuses = LIST_STATUSES.get(status.lower() if isinstance(status, str) else "")
    if statuses is None:
        raise InvalidParameter(
            "status", status, f"status must be one of {', '.join(LIST_STATUSES)}"
        )
    limit = list_limit(limit)
    match = instrument_filter(catalogue, exchange, symbol)
    page = Page("order", limit, since, before)
    for order in reversed(account.orders.values()):
        if page.ended(order.id):
            break
        if (
            order.status not in statuses
            or page.outside(order.id, order.created)
            or not match(order.instrument)
        ):
            continue
        page.add(order, order_wire)
    return page.answer("orders", "order_id")


def fill_history(
    catalogue: Catalogue,
    account: Account,
    exchange: str | None,
    symbol: str | None,
    order_id: str | None,
    limit: int,
    since: str | None,
    before: str | None,
) -> dict[str, Any]:
    """A page of the account's fills, newest first: {"fills", "total", "next_before"};
    `since`/`before` as in `order_history`, with trade ids."""
    limit = list_limit(limit)
    match = instrument_filter(catalogue, exchange, symbol)
    only = find_order(account, order_id) if order_id is not None else None
    page = Page("trade", limit, since, before)
    for record in reversed(account.fills):
        if page.ended(record.trade_id):
            break
        if (
            (only is not None and record.order is not only)
            or page.outside(record.trade_id, record.timestamp)
            or not match(record.order.instrument)
        ):
            continue
        page.add(record, fill_wire)
    return page.answer("fills", "trade_id")


# ---------------------------------------------------------------------- balances and positions
def balances(account: Account) -> list[dict[str, Any]]:
    return [
        {
            "asset": asset,
            "total": units_to_decimal(total),
            "available": units_to_decimal(total - locked),
            "locked": units_to_decimal(locked),
        }
        for asset, (total, locked) in sorted(account.balances.items())
    ]


def positions_report(
    account: Account, instruments: Sequence[Instrument], books: Sequence[OrderBook]
) -> dict[str, Any]:
    """{"positions": [...], "totals": [...]}: each position, then per quote asset the
    account's equity (the asset's total balance plus its positions at the mid), realized
    PnL (fees included) and unrealized PnL. Equity and unrealized are null while a
    position of that quote has no mid (an empty book side)."""
    result = []
    # quote asset -> [position value (units) or None, realized, unrealized or None]
    sums: dict[str, list[int | None]] = {}
    for index, position in sorted(account.positions.items()):
        if position.quantity == 0 and position.realized == 0:
            continue
        instrument = instruments[index]
        book = books[index]
        bid, ask = book.best_bid(), book.best_ask()
        mid_x2 = None if bid is None or ask is None else bid + ask
        average = (
            average_price(instrument, abs(position.cost), abs(position.quantity))
            if position.quantity
            else None
        )
        unrealized = (
            position.unrealized(mid_x2 * instrument.notional_units)
            if mid_x2 is not None
            else (0 if position.quantity == 0 else None)
        )
        value = None if unrealized is None else unrealized + position.cost
        entry = sums.setdefault(instrument.quote, [0, 0, 0])
        entry[0] = None if value is None or entry[0] is None else entry[0] + value
        entry[1] = (entry[1] or 0) + position.realized
        entry[2] = None if unrealized is None or entry[2] is None else entry[2] + unrealized
        result.append(
            {
                "exchange": instrument.venue.name,
                "symbol": instrument.symbol,
                "quantity": instrument.quantity_of(position.quantity),
                "average_price": average,
                "market_price": None if mid_x2 is None else mid_price(instrument, mid_x2),
                "realized_pnl": units_to_decimal(position.realized),
                "unrealized_pnl": None if mid_x2 is None else units_to_decimal(unrealized or 0),
                "pnl_asset": instrument.quote,
            }
        )
    totals = []
    for asset, (value, realized, unrealized) in sorted(sums.items()):
        balance = account.balances.get(asset, (0, 0))[0]
        totals.append(
            {
                "asset": asset,
                "equity": None if value is None else units_to_decimal(balance + value),
                "realized_pnl": units_to_decimal(realized or 0),
                "unrealized_pnl": None if unrealized is None else units_to_decimal(unrealized),
            }
        )
    return {"positions": result, "totals": totals}


# ---------------------------------------------------------------------- wire shapes
def average_price(instrument: Instrument, notional: int, lots: int) -> Decimal:
    """notional (ledger units) / lots, as a price with up to 6 digits beyond the tick."""
    ticks = Decimal(notional) / (Decimal(lots) * instrument.notional_units)
    exact = (ticks * instrument.tick_size).quantize(
        instrument.tick_size.scaleb(-6), rounding=ROUND_HALF_EVEN
    )
    trimmed = exact.normalize()
    # Both finite: their exponents are ints, not NaN/Infinity letters.
    if cast(int, trimmed.as_tuple().exponent) > cast(int, instrument.tick_size.as_tuple().exponent):
        return exact.quantize(instrument.tick_size)
    return trimmed


def mid_price(instrument: Instrument, mid_x2: int) -> Decimal:
    """The mid, exactly: on the tick when it falls there, else with one more digit (a half tick)."""
    if mid_x2 % 2 == 0:
        return instrument.price_of(mid_x2 // 2)
    return (instrument.price_of(mid_x2) / 2).quantize(instrument.tick_size / 10)


def python_order_wire(order: Order) -> dict[str, Any]:
    """The reference's Order format plus the documented extensions. `order_wire` is this
    function, or with the C core its twin in views.c (a PyOrder still comes here)."""
    instrument = order.instrument
    created = iso_from_micros(order.created)
    return {
        "order_id": str(order.id),
        "client_order_id": order.client_id,
        "timestamp": created,
        "exchange": instrument.venue.name,
        "symbol": instrument.symbol,
        "side": SIDE_NAMES[order.side],
        "type": WIRE_NAME[order.type],
        "time_in_force": WIRE_NAME[order.tif],
        "post_only": order.post_only,
        "quantity": instrument.quantity_of(order.quantity),
        "price": instrument.price_of(order.price) if order.type is LIMIT else None,
        "filled_quantity": instrument.quantity_of(order.filled),
        "average_price": average_price(instrument, order.filled_notional, order.filled)
        if order.filled
        else None,
        "status": WIRE_NAME[order.status],
        "reason": WIRE_NAME[order.reason],
        "updated_at": created if order.updated == order.created else iso_from_micros(order.updated),
    }


order_wire: Callable[[Order], dict[str, Any]] = python_order_wire
if NATIVE:  # the C twin (views.c): an order's wire dict is built for each of its events
    from velocimex_cli.engine.core import _native

    _native._configure_views(
        WIRE_NAME, SIDE_NAMES, LIMIT, iso_from_micros, average_price, python_order_wire
    )
    order_wire = _native.order_wire


def fill_wire(record: FillRecord) -> dict[str, Any]:
    order = record.order
    instrument = order.instrument
    return {
        "trade_id": str(record.trade_id),
        "order_id": str(order.id),
        "client_order_id": order.client_id,
        "timestamp": iso_from_micros(record.timestamp),
        "exchange": instrument.venue.name,
        "symbol": instrument.symbol,
        "side": SIDE_NAMES[order.side],
        "price": instrument.price_of(record.price),
        "quantity": instrument.quantity_of(record.lots),
        "fee": units_to_decimal(record.fee),
        "fee_asset": instrument.quote,
        "liquidity": record.liquidity,
    }
