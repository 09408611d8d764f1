"""Order-entry rules shared by placing an order and validating one (the dry run): when a
client_order_id replays an order or conflicts with it, and how a placement would end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.orders import (
    CANCELED,
    FILLED,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    PARTIALLY_FILLED,
    REJECTED,
    Order,
    Reason,
    Status,
    TimeInForce,
)
from velocimex_cli.wire.errors import IdempotencyConflict

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument


def same_order(
    original: Order,
    instrument: Instrument,
    side: int,
    lots: int,
    price: int | None,
    tif: TimeInForce,
    post_only: bool,
) -> None:
    """Raise IdempotencyConflict unless the request repeats `original` exactly (exchange,
    symbol, side, type, quantity, limit price, time in force, post-only)."""
    type_ = MARKET if price is None else LIMIT
    if type_ is MARKET and tif is GTC:
        tif = IOC
    differs = []
    if instrument is not original.instrument:
        same_venue = instrument.venue is original.instrument.venue
        differs.append("symbol" if same_venue else "exchange")
    if side != original.side:
        differs.append("side")
    if type_ is not original.type:
        differs.append("type")
    if lots != original.quantity:
        differs.append("quantity")
    if type_ is LIMIT and original.type is LIMIT and price != original.price:
        differs.append("price")
    if tif is not original.tif:
        differs.append("time_in_force")
    if post_only != original.post_only:
        differs.append("post_only")
    if differs:
        raise IdempotencyConflict(
            "client_order_id",
            original.client_id,
            f"client_order_id {original.client_id!r} was already used for order {original.id} "
            f"with a different {', '.join(differs)}; use a new client_order_id for a new order",
            order_id=str(original.id),
            differs=differs,
        )


def outcome(
    order: Order, reject: Reason | None, filled: int, liquidity_left: bool
) -> tuple[Status, Reason | None]:
    """The status and reason an order would end its placement with, given what it would fill
    (mirrors `Exchange._execute`)."""
    if reject is not None:
        return REJECTED, reject
    if filled == order.quantity:
        return FILLED, None
    if order.tif is FOK:
        return CANCELED, Reason.FOK_NOT_FILLABLE
    if order.tif is GTC:
        return (PARTIALLY_FILLED if filled else Status.OPEN), None
    if order.type is MARKET:
        return CANCELED, (Reason.MARKET_PROTECTION if liquidity_left else Reason.NO_LIQUIDITY)
    return CANCELED, Reason.IOC_REMAINDER
