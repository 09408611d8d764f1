"""Account routes: balances, positions and risk limits of the key's account."""

from __future__ import annotations

from velocimex_cli.engine import audit
from velocimex_cli.engine.api.operations import Call, Operation, Success
from velocimex_cli.engine.api.payloads import list_of, ref
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.engine.core.risk import LIMIT_NAMES

LIMITS_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "price_band_pct": {
            "type": ["number", "string", "null"],
            "exclusiveMinimum": 0,
            "maximum": 1000,
            "description": "Percent through the mid a limit order may be priced; null: off.",
        },
        "max_order_notional": {
            "type": ["number", "string", "null"],
            "exclusiveMinimum": 0,
            "maximum": 10**12,
            "description": "In the quote asset; null: off.",
        },
        "max_open_orders": {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000},
        "max_orders_per_second": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 1_000_000,
        },
    },
}
LIMITS_REPLACEMENT = {**LIMITS_REQUEST, "required": list(LIMIT_NAMES)}


async def balance(call: Call) -> JsonResponse:
    return ok({"balances": call.exchange.balances(call.account)})


async def positions(call: Call) -> JsonResponse:
    return ok(call.exchange.positions_report(call.account))


async def limits(call: Call) -> JsonResponse:
    return ok(call.exchange.risk_limits(call.account))


async def change_limits(call: Call) -> JsonResponse:
    return await _set_limits(call, "limits.change")


async def replace_limits(call: Call) -> JsonResponse:
    return await _set_limits(call, "limits.replace")


async def _set_limits(call: Call, action: str) -> JsonResponse:
    limits = call.exchange.set_risk_limits(call.account, call.fields)
    await call.node.committed()  # audited once the change is durable
    audit.record_call(call, action, call.account, limits)
    return ok(limits)


_LIMITS_400 = "A limit is out of its bounds or unknown, or none is named (INVALID_PARAMETER)."

OPERATIONS = (
    Operation(
        "GET",
        "/v1/account/balance",
        balance,
        "Account balances",
        "account",
        (Success(200, "Each asset's total, available, locked.", list_of("balances", "Balance")),),
    ),
    Operation(
        "GET",
        "/v1/account/positions",
        positions,
        "Positions",
        "account",
        (Success(200, "Positions and the account's totals.", ref("PositionsReport")),),
    ),
    Operation(
        "GET",
        "/v1/account/limits",
        limits,
        "Pre-trade risk limits",
        "account",
        (Success(200, "Every limit (null: no limit).", ref("RiskLimits")),),
        extension=True,
    ),
    Operation(
        "PATCH",
        "/v1/account/limits",
        change_limits,
        "Change some risk limits",
        "account",
        (Success(200, "Every limit, after the change.", ref("RiskLimits")),),
        permission="trade",
        body=LIMITS_REQUEST,
        errors={400: _LIMITS_400},
        description="Null switches a limit off.",
        extension=True,
    ),
    Operation(
        "PUT",
        "/v1/account/limits",
        replace_limits,
        "Set every risk limit",
        "account",
        (Success(200, "Every limit, as set.", ref("RiskLimits")),),
        permission="trade",
        body=LIMITS_REPLACEMENT,
        errors={400: _LIMITS_400},
        description="Each limit must be given; null switches it off.",
        extension=True,
    ),
)
