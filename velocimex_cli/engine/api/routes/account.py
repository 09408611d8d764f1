"""Account routes: balances and positions of the key's account."""

from __future__ import annotations

from velocimex_cli.engine.api.operations import Call, Operation, Success
from velocimex_cli.engine.api.payloads import list_of
from velocimex_cli.engine.api.responses import JsonResponse, ok


async def balance(call: Call) -> JsonResponse:
    return ok({"balances": call.exchange.balances(call.account)})


async def positions(call: Call) -> JsonResponse:
    return ok({"positions": call.exchange.positions(call.account)})


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
        (Success(200, "Open positions and realized PnL.", list_of("positions", "Position")),),
    ),
)
