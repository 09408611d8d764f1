"""Order requests checked on the client before anything is sent, and client order ids.

Validation names the parameter at fault with an `InvalidParameter`, exactly as the API would:
a quantity of -1 is rejected here, never sent.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal
from velocimex_cli.wire.orders import (
    CLIENT_ORDER_ID,
    CLIENT_ORDER_ID_RULE,
    ORDER_FIELDS,
    ORDER_TYPES,
    SIDES,
    TIME_IN_FORCE,
)


def new_client_order_id() -> str:
    return "vmx-" + secrets.token_hex(10)


def _positive(parameter: str, value: Any) -> Decimal:
    number = parse_decimal(value)
    if number is None:
        raise InvalidParameter(parameter, value, f"{parameter} must be a number, not {value!r}")
    if number <= 0:
        raise InvalidParameter(
            parameter, value, f"{parameter} must be greater than zero, not {value}"
        )
    return number


def _choice(parameter: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in choices:
        raise InvalidParameter(
            parameter, value, f"{parameter} must be one of {', '.join(choices)}, not {value!r}"
        )
    return text


def _name(parameter: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(parameter, value, f"{parameter} is required")
    return value.strip()


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
    """The POST /v1/trading/orders body. `price` implies limit, its absence market."""
    body: dict[str, Any] = {
        "exchange": _name("exchange", exchange).upper(),
        "symbol": _name("symbol", symbol).upper().replace("-", "/"),
        "side": _choice("side", side, SIDES),
    }
    kind = _choice("type", order_type, ORDER_TYPES) if order_type else None
    if kind is None:
        kind = "limit" if price is not None else "market"
    body["type"] = kind
    body["quantity"] = _positive("quantity", quantity)
    if kind == "limit":
        if price is None:
            raise InvalidParameter("price", "", "a limit order needs --price")
        body["price"] = _positive("price", price)
    elif price is not None:
        raise InvalidParameter("price", price, "a market order takes no price; drop --price")
    if time_in_force is not None:
        tif = _choice("time_in_force", time_in_force, TIME_IN_FORCE)
        if kind == "market" and tif == "gtc":
            raise InvalidParameter(
                "time_in_force", time_in_force, "a market order cannot rest: use ioc or fok"
            )
        body["time_in_force"] = tif
    if post_only:
        if kind != "limit":
            raise InvalidParameter("post_only", "true", "post_only applies to limit orders only")
        body["post_only"] = True
    if client_order_id is not None:
        if not CLIENT_ORDER_ID.match(client_order_id):
            raise InvalidParameter(
                "client_order_id",
                client_order_id,
                f"client_order_id must be {CLIENT_ORDER_ID_RULE}",
            )
        body["client_order_id"] = client_order_id
    return body


def order_from_mapping(data: Any) -> dict[str, Any]:
    """Validate a POST body given as a mapping (one line of a batch file)."""
    if not isinstance(data, dict):
        raise InvalidParameter("order", str(data)[:40], "each line must be a JSON object")
    unknown = sorted(set(data) - ORDER_FIELDS)
    if unknown:
        raise InvalidParameter(unknown[0], data[unknown[0]], f"unknown field {unknown[0]!r}")
    post_only = data.get("post_only", False)
    if not isinstance(post_only, bool):
        raise InvalidParameter("post_only", post_only, "post_only must be true or false")
    return build_order(
        data.get("exchange"),
        data.get("symbol"),
        data.get("side"),
        data.get("quantity"),
        data.get("price"),
        order_type=data.get("type"),
        time_in_force=data.get("time_in_force"),
        post_only=post_only,
        client_order_id=data.get("client_order_id"),
    )


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
