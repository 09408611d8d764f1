"""Trading routes: place, validate, look up, list and cancel orders; list fills; the dead-man
switch (cancel-after)."""

from __future__ import annotations

from velocimex_cli.engine.api.operations import Call, Operation, Param, Success
from velocimex_cli.engine.api.payloads import (
    ORDER_ID_MAX,
    ORDER_REQUEST,
    exchange_text,
    list_of,
    page_of,
    ref,
    symbol_text,
)
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.orders import CLIENT_ORDER_ID_RULE

ORDERS = "/v1/trading/orders"

EXCHANGE_FILTER = Param("exchange", exchange_text(), "Only this exchange (case-insensitive).")
SYMBOL_FILTER = Param("symbol", symbol_text(), "Only this symbol; needs `exchange` too.")
LIMIT = Param(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    "At most this many, newest first.",
)
CURSOR_RULE = "an ISO-8601 UTC time like 2026-11-24T15:00:00Z or an id"


def cursor(name: str, what: str) -> Param:
    return Param(
        name,
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "pattern": "^[0-9][0-9A-Za-z:.+-]{0,39}$",
            "x-rule": f"{name} must be {CURSOR_RULE}",
            "example": "2026-11-24T15:00:00Z",
        },
        what,
    )


SINCE = cursor("since", "At or after this time, or after this id.")
BEFORE = cursor("before", "Before this time or id (`next_before` of the previous page).")
ORDER_ID_RULE = (
    f"order_id must be an order id (digits) or client_order_id:<id> ({CLIENT_ORDER_ID_RULE})"
)
ORDER_ID = Param(
    "order_id",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": ORDER_ID_MAX,
        "pattern": r"^(?:[0-9]{1,19}|client_order_id:[A-Za-z0-9_.:-]{1,64})$",
        "x-rule": ORDER_ID_RULE,
        "example": "1000007",
    },
    "The order id, or `client_order_id:<id>` to look it up by its client id.",
)


async def place_order(call: Call) -> JsonResponse:
    order, created = call.exchange.place_order(call.account, call.fields)
    return ok(order, 201 if created else 200)


async def validate_order(call: Call) -> JsonResponse:
    return ok(call.exchange.validate_order(call.account, call.fields))


async def list_orders(call: Call) -> JsonResponse:
    # The declared query parameters (below) are order_history's, by name, defaults filled in.
    return ok(call.exchange.order_history(call.account, **call.query))


async def cancel_all(call: Call) -> JsonResponse:
    orders = call.exchange.cancel_all(
        call.account, exchange=call.query["exchange"], symbol=call.query["symbol"]
    )
    return ok({"orders": orders})


async def get_order(call: Call) -> JsonResponse:
    return ok(call.exchange.get_order(call.account, call.path["order_id"]))


async def cancel_order(call: Call) -> JsonResponse:
    return ok(call.exchange.cancel_order(call.account, call.path["order_id"]))


async def list_fills(call: Call) -> JsonResponse:
    # The declared query parameters (below) are fill_history's, by name, defaults filled in.
    return ok(call.exchange.fill_history(call.account, **call.query))


async def cancel_after(call: Call) -> JsonResponse:
    return ok(call.exchange.cancel_after(call.account, call.fields["timeout"]))


async def cancel_after_status(call: Call) -> JsonResponse:
    return ok(call.exchange.cancel_after_status(call.account))


_BUSINESS_400 = (
    "Invalid input (INVALID_PARAMETER), not enough funds (INSUFFICIENT_BALANCE) or a risk limit"
    " of the account (RISK_LIMIT_EXCEEDED)."
)
_CONFLICT_409 = (
    "The market is closed (MARKET_CLOSED), or client_order_id was already used with other"
    " parameters (INVALID_PARAMETER with details.order_id and details.differs)."
)
CANCEL_AFTER_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["timeout"],
    "properties": {
        "timeout": {
            "type": "integer",
            "minimum": 0,
            "maximum": 86400,
            "description": "Seconds until every open order is canceled; 0 disarms.",
        }
    },
}
_UNKNOWN_ORDER = "No such order in this account (NOT_FOUND)."

OPERATIONS = (
    Operation(
        "POST",
        ORDERS,
        place_order,
        "Place an order",
        "trading",
        (
            Success(201, "The order was placed.", ref("Order")),
            Success(200, "A replay: this client_order_id was already placed.", ref("Order")),
        ),
        permission="trade",
        body=ORDER_REQUEST,
        body_checked_by_entry=True,
        errors={400: _BUSINESS_400, 409: _CONFLICT_409},
        not_done="not placed",
    ),
    Operation(
        "POST",
        ORDERS + "/validate",
        validate_order,
        "Dry run: every pre-trade check of a placement, placing nothing",
        "trading",
        (Success(200, "What the placement would do now.", ref("Validation")),),
        permission="trade",
        body=ORDER_REQUEST,
        body_checked_by_entry=True,
        errors={400: _BUSINESS_400, 409: _CONFLICT_409},
        description="Refusals are exactly the placement's error, code and status.",
        extension=True,
    ),
    Operation(
        "GET",
        ORDERS,
        list_orders,
        "List orders",
        "trading",
        (
            Success(
                200, "A page of the account's orders, newest first.", page_of("orders", "Order")
            ),
        ),
        query=(
            Param(
                "status",
                {
                    "type": "string",
                    "enum": ["open", "filled", "canceled", "rejected", "all"],
                    "default": "open",
                },
                "`open` includes partially filled orders.",
            ),
            EXCHANGE_FILTER,
            SYMBOL_FILTER,
            LIMIT,
            SINCE,
            BEFORE,
        ),
        extension=True,
    ),
    Operation(
        "DELETE",
        ORDERS,
        cancel_all,
        "Cancel every open order",
        "trading",
        (Success(200, "The orders that were canceled.", list_of("orders", "Order")),),
        permission="trade",
        query=(EXCHANGE_FILTER, SYMBOL_FILTER),
        extension=True,
        not_done="nothing canceled",
    ),
    Operation(
        "GET",
        ORDERS + "/{order_id}",
        get_order,
        "Look up an order",
        "trading",
        (Success(200, "The order.", ref("Order")),),
        path_params=(ORDER_ID,),
        errors={404: _UNKNOWN_ORDER},
        extension=True,
    ),
    Operation(
        "DELETE",
        ORDERS + "/{order_id}",
        cancel_order,
        "Cancel an order",
        "trading",
        (Success(200, "The order, now canceled.", ref("Order")),),
        permission="trade",
        path_params=(ORDER_ID,),
        errors={
            404: _UNKNOWN_ORDER,
            409: "The order is no longer open (INVALID_PARAMETER with details.status).",
        },
        not_done="not canceled",
    ),
    Operation(
        "GET",
        "/v1/trading/fills",
        list_fills,
        "List fills",
        "trading",
        (Success(200, "A page of the account's fills, newest first.", page_of("fills", "Fill")),),
        query=(
            EXCHANGE_FILTER,
            SYMBOL_FILTER,
            Param("order_id", ORDER_ID.schema, "Only this order's fills."),
            LIMIT,
            SINCE,
            BEFORE,
        ),
        errors={404: "order_id names no order of this account (NOT_FOUND)."},
        extension=True,
    ),
    Operation(
        "POST",
        "/v1/trading/cancel-after",
        cancel_after,
        "Dead-man switch: cancel every open order unless called again in time",
        "trading",
        (Success(200, "The switch's state.", ref("CancelAfter")),),
        permission="trade",
        body=CANCEL_AFTER_REQUEST,
        description="In the spirit of Kraken's cancelAllOrdersAfter.",
        extension=True,
    ),
    Operation(
        "GET",
        "/v1/trading/cancel-after",
        cancel_after_status,
        "The dead-man switch's state",
        "trading",
        (Success(200, "The switch's state.", ref("CancelAfter")),),
        extension=True,
    ),
)
