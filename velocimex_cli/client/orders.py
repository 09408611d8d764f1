"""Order requests checked on the client before anything is sent, and client order ids.

The checks are the wire's declaration of an order (wire/orders.check_order), the same the engine
makes, so a mistake gets the same `InvalidParameter` here as from the API: a quantity of -1 is
refused here with the engine's sentence, never sent. What the person types is first put in the
wire's spelling (case, BTC-USDT for BTC/USDT); on the command line a price implies a limit order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.errors import InvalidParameter


def new_client_order_id() -> str:
    return "vmx-" + secrets.token_hex(10)


# What the person types, put in the wire's spelling: trimmed, one case, BTC-USDT for BTC/USDT.
_SPELLING: dict[str, Callable[[str], str]] = {
    "exchange": lambda text: text.strip().upper(),
    "symbol": lambda text: text.strip().upper().replace("-", "/"),
    "side": lambda text: text.strip().lower(),
    "type": lambda text: text.strip().lower(),
    "time_in_force": lambda text: text.strip().lower(),
}


def checked_order(request: Any) -> dict[str, Any]:
    """`request` in the wire's spelling, checked as the engine checks it (InvalidParameter with
    the engine's sentence for the first mistake); prices and quantities become Decimal."""
    # Imported here: the declaration compiles its checks (~3 ms), which commands that place no
    # order (`vmx order list`) should not pay at start-up.
    from velocimex_cli.wire.orders import NOT_AN_OBJECT, check_order

    if not isinstance(request, dict):
        raise InvalidParameter("body", type(request).__name__, NOT_AN_OBJECT)
    body = {
        key: _SPELLING[key](value) if key in _SPELLING and isinstance(value, str) else value
        for key, value in request.items()
    }
    order = check_order(body)
    body["quantity"] = order.quantity
    if order.price is not None:
        body["price"] = order.price
    return body


def build_order(
    exchange: Any,
    symbol: Any,
    side: Any,
    quantity: Any,
    price: Any = None,
    *,
    order_type: str | None = None,
    time_in_force: str | None = None,
    post_only: bool = False,
    client_order_id: str | None = None,
) -> dict[str, Any]:
    """The POST /v1/trading/orders body of `vmx order place`'s arguments: `--price` implies a
    limit order, its absence a market order, unless `--type` says otherwise."""
    body: dict[str, Any] = {
        "exchange": exchange,
        "symbol": symbol,
        "side": side,
        "type": order_type or ("limit" if price is not None else "market"),
        "quantity": quantity,
    }
    if price is not None:
        body["price"] = price
    if time_in_force is not None:
        body["time_in_force"] = time_in_force
    if post_only:
        body["post_only"] = True
    if client_order_id is not None:
        body["client_order_id"] = client_order_id
    return checked_order(body)


def order_from_mapping(data: Any) -> dict[str, Any]:
    """One line of a batch file: a POST body, checked as the engine checks it."""
    return checked_order(data)


def notional(body: dict[str, Any], reference_price: Decimal | None = None) -> Decimal | None:
    """price x quantity (or reference price x quantity for a market order); None if unknown."""
    price = body.get("price")
    if price is None:
        price = reference_price
    if price is None:
        return None
    return Decimal(price) * Decimal(body["quantity"])


# Why an order can end its placement without the fill it asked for (the API's `reason`).
UNFILLED_REASONS = frozenset(
    {"post_only_would_take", "fok_not_fillable", "ioc_remainder", "market_protection",
     "no_liquidity"}
)  # fmt: skip


def shortfall(order: Any) -> str | None:
    """A sentence when `order` ended without the fill it asked for (post-only rejected, FOK not
    fillable, IOC or market remainder canceled), else None."""
    if not isinstance(order, dict):
        return None
    status, reason = order.get("status"), order.get("reason")
    if status != "rejected" and not (status == "canceled" and reason in UNFILLED_REASONS):
        return None
    order_id = order.get("order_id")
    name = f"Order {order_id}" if order_id is not None else "The order"
    filled = order.get("filled_quantity")
    return (
        f"{name} would be {status} ({reason}): {filled} of {order.get('quantity')} filled"
        if order_id is None
        else f"{name} is {status} ({reason}): {filled} of {order.get('quantity')} filled"
    )
