"""Trading routes: place, validate, look up, list and cancel orders; list fills; the dead-man
switch (cancel-after)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.request_body import int_param, json_object, str_param
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.errors import InvalidParameter

router = APIRouter(prefix="/v1/trading", tags=["trading"])

ORDER_FIELDS = {
    "exchange": "string",
    "symbol": "string",
    "side": "string",
    "type": "string",
    "quantity": "number",
    "price": "number",
    "time_in_force": "string",
    "post_only": "boolean",
    "client_order_id": "string",
}
ORDER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["exchange", "symbol", "side", "type", "quantity"],
    "properties": {
        "exchange": {"type": "string", "example": "NASDAQ"},
        "symbol": {"type": "string", "example": "AAPL"},
        "side": {"type": "string", "enum": ["buy", "sell"]},
        "type": {"type": "string", "enum": ["limit", "market"]},
        "quantity": {"type": "number", "example": 100},
        "price": {"type": "number", "example": 150.50},
        "time_in_force": {"type": "string", "enum": ["gtc", "ioc", "fok"]},
        "post_only": {"type": "boolean"},
        "client_order_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
    },
}


@router.post(
    "/orders",
    status_code=201,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": ORDER_SCHEMA}}}
    },
)
async def place_order(request: Request) -> JsonResponse:
    principal = authenticate(request, "trade")
    body = await json_object(request, ORDER_FIELDS)
    order, created = request.app.state.runtime.exchange.place_order(principal.account, body)
    return ok(order, 201 if created else 200)


@router.post(
    "/orders/validate",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": ORDER_SCHEMA}}}
    },
)
async def validate_order(request: Request) -> JsonResponse:
    """Extension: every pre-trade check of a placement, placing nothing (a dry run)."""
    principal = authenticate(request, "trade")
    body = await json_object(request, ORDER_FIELDS)
    return ok(request.app.state.runtime.exchange.validate_order(principal.account, body))


@router.get("/orders")
async def list_orders(request: Request) -> JsonResponse:
    principal = authenticate(request)
    page = request.app.state.runtime.exchange.order_history(
        principal.account,
        status=request.query_params.get("status") or "open",
        exchange=str_param(request, "exchange"),
        symbol=str_param(request, "symbol"),
        limit=int_param(request, "limit", 100, 1, 1000),
        since=str_param(request, "since"),
        before=str_param(request, "before"),
    )
    return ok(page)


@router.delete("/orders")
async def cancel_all(request: Request) -> JsonResponse:
    principal = authenticate(request, "trade")
    orders = request.app.state.runtime.exchange.cancel_all(
        principal.account,
        exchange=str_param(request, "exchange"),
        symbol=str_param(request, "symbol"),
    )
    return ok({"orders": orders})


@router.get("/orders/{order_id}")
async def get_order(request: Request, order_id: str) -> JsonResponse:
    principal = authenticate(request)
    return ok(request.app.state.runtime.exchange.get_order(principal.account, order_id))


@router.delete("/orders/{order_id}")
async def cancel_order(request: Request, order_id: str) -> JsonResponse:
    principal = authenticate(request, "trade")
    return ok(request.app.state.runtime.exchange.cancel_order(principal.account, order_id))


@router.get("/fills")
async def list_fills(request: Request) -> JsonResponse:
    principal = authenticate(request)
    page = request.app.state.runtime.exchange.fill_history(
        principal.account,
        exchange=str_param(request, "exchange"),
        symbol=str_param(request, "symbol"),
        order_id=str_param(request, "order_id"),
        limit=int_param(request, "limit", 100, 1, 1000),
        since=str_param(request, "since"),
        before=str_param(request, "before"),
    )
    return ok(page)


CANCEL_AFTER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["timeout"],
    "properties": {"timeout": {"type": "integer", "minimum": 0, "maximum": 86400}},
}


@router.post(
    "/cancel-after",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CANCEL_AFTER_SCHEMA}},
        }
    },
)
async def cancel_after(request: Request) -> JsonResponse:
    """Extension: the dead-man switch (Kraken's cancelAllOrdersAfter); timeout 0 disarms."""
    principal = authenticate(request, "trade")
    body = await json_object(request, {"timeout": "number"})
    if "timeout" not in body:
        raise InvalidParameter("timeout", None, 'send {"timeout": SECONDS} (0 disarms)')
    exchange = request.app.state.runtime.exchange
    return ok(exchange.cancel_after(principal.account, body["timeout"]))


@router.get("/cancel-after")
async def cancel_after_status(request: Request) -> JsonResponse:
    principal = authenticate(request)
    return ok(request.app.state.runtime.exchange.cancel_after_status(principal.account))
