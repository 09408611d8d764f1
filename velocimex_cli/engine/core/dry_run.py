"""The dry run: what a placement would do now, changing nothing.

It runs the same parsing (`entry.parse_order`) and the same pre-trade checks
(`OrderEntry._check`) as a placement, so it raises exactly the error the placement would; then
walks the book as matching would (skipping the account's own orders: self-trade prevention)
to estimate fills, fee, notional and lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core import venue_gate
from velocimex_cli.engine.core.entry import parse_order
from velocimex_cli.engine.core.entry_rules import outcome
from velocimex_cli.engine.core.fees import fee
from velocimex_cli.engine.core.ledger import units_to_decimal
from velocimex_cli.engine.core.orders import BUY, FOK, LIMIT, SELL
from velocimex_cli.engine.core.self_trade import trades_with_self
from velocimex_cli.engine.core.views import average_price, order_wire
from velocimex_cli.wire.timefmt import to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.ledger import Account


def dry_run(exchange: ExchangeState, account: Account, request: dict[str, Any]) -> dict[str, Any]:
    """The order as it would end up against the current book (its id null), and the estimated
    notional, fee, locked amount and fills; or the error the placement would raise."""
    instrument, side, _type, tif, post_only, lots, ticks, client_id = parse_order(
        exchange.catalogue, request
    )
    if exchange.gated and instrument.index in exchange.gated:
        venue_gate.check(exchange, account, instrument, side, lots, ticks)
    order, asset, required, reject, _now = exchange._check(
        account, instrument, side, lots, ticks, tif, post_only, client_id
    )
    if asset is None:
        return {"accepted": True, "replay": True, "order": order_wire(order), "estimate": None}
    fills: list[tuple[int, int]] = []  # (price, lots) per maker, in matching order
    liquidity_left = False  # makers beyond the order's limit (a market order's bound)
    if reject is None:
        remaining = lots
        limit = order.price
        for maker in exchange.books[instrument.index].resting_orders(SELL if side == BUY else BUY):
            if (maker.price > limit) if side == BUY else (maker.price < limit):
                liquidity_left = True
                break
            if trades_with_self(maker, account.name):  # canceled, skipped
                continue
            take = min(remaining, maker.quantity - maker.filled)
            fills.append((maker.price, take))
            remaining -= take
            if not remaining:
                break
        if tif is FOK and remaining:
            fills = []
    filled = sum(take for _, take in fills)
    notional_units = instrument.notional_units
    fill_notional = sum(price * take * notional_units for price, take in fills)
    taker_rate = exchange._taker_rate if instrument.taker_rate is None else instrument.taker_rate
    fee_total = sum(fee(price * take * notional_units, taker_rate) for price, take in fills)
    status, reason = outcome(order, reject, filled, liquidity_left)
    order.filled = filled
    order.filled_notional = fill_notional
    order.status = status
    order.reason = reason
    order.created = order.updated = to_micros(exchange.clock())
    preview = order_wire(order)
    preview["order_id"] = None
    levels: list[list[int]] = []  # [price, lots] per price level
    for price, take in fills:
        if levels and levels[-1][0] == price:
            levels[-1][1] += take
        else:
            levels.append([price, take])
    notional = order.price * lots * notional_units if order.type is LIMIT else fill_notional
    return {
        "accepted": True,
        "replay": False,
        "order": preview,
        "estimate": {
            "notional": units_to_decimal(notional),
            "fee": units_to_decimal(fee_total),
            "fee_asset": instrument.quote,
            "locked": units_to_decimal(required),
            "locked_asset": asset,
            "filled_quantity": instrument.quantity_of(filled),
            "average_price": average_price(instrument, fill_notional, filled) if filled else None,
            "fills": [
                {"price": instrument.price_of(price), "quantity": instrument.quantity_of(take)}
                for price, take in levels
            ],
        },
    }
