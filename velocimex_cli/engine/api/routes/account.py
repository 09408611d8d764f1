"""Account routes: balances, positions and risk limits of the key's account."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.request_body import json_object
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.engine.core.risk import LIMIT_NAMES
from velocimex_cli.wire.errors import InvalidParameter

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("/balance")
async def balance(request: Request) -> JsonResponse:
    principal = authenticate(request)
    return ok({"balances": request.app.state.runtime.exchange.balances(principal.account)})


@router.get("/positions")
async def positions(request: Request) -> JsonResponse:
    principal = authenticate(request)
    return ok(request.app.state.runtime.exchange.positions_report(principal.account))


LIMIT_FIELDS = {name: "any" for name in LIMIT_NAMES}
LIMITS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "price_band_pct": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1000},
        "max_order_notional": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "max_open_orders": {"type": ["integer", "null"], "minimum": 1},
        "max_orders_per_second": {"type": ["integer", "null"], "minimum": 1},
    },
}


@router.get("/limits")
async def limits(request: Request) -> JsonResponse:
    """Extension: the account's pre-trade risk limits (null: no limit)."""
    principal = authenticate(request)
    return ok(request.app.state.runtime.exchange.risk_limits(principal.account))


def _limits_body(schema: dict[str, object]) -> dict[str, object]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.patch("/limits", openapi_extra=_limits_body(LIMITS_SCHEMA))
async def change_limits(request: Request) -> JsonResponse:
    """Extension: change the limits named in the body (null switches one off)."""
    principal = authenticate(request, "trade")
    body = await json_object(request, LIMIT_FIELDS)
    exchange = request.app.state.runtime.exchange
    return ok(exchange.set_risk_limits(principal.account, body))


@router.put("/limits", openapi_extra=_limits_body({**LIMITS_SCHEMA, "required": list(LIMIT_NAMES)}))
async def replace_limits(request: Request) -> JsonResponse:
    """Extension: set every limit at once (each one must be given; null switches it off)."""
    principal = authenticate(request, "trade")
    body = await json_object(request, LIMIT_FIELDS)
    missing = [name for name in LIMIT_NAMES if name not in body]
    if missing:
        raise InvalidParameter(
            missing[0], None, f"PUT sets every limit: add {', '.join(missing)} (or use PATCH)"
        )
    exchange = request.app.state.runtime.exchange
    return ok(exchange.set_risk_limits(principal.account, body))
