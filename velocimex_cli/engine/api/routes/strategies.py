"""Strategy routes: the contract is in place; strategies themselves arrive in a later issue.

Until a strategy registry exists the list is empty and deploy answers NOT_FOUND for any id.
"""

from __future__ import annotations

from velocimex_cli.engine.api.operations import Call, Operation, Param, Success
from velocimex_cli.engine.api.payloads import DEPLOY_REQUEST, ID_PATTERN, list_of, name_text, ref
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.errors import NotFound

STRATEGY_ID = Param(
    "strategy_id",
    name_text("market-maker", ID_PATTERN, "strategy_id"),
    "The strategy's id, as listed by GET /v1/strategies.",
)


async def list_strategies(call: Call) -> JsonResponse:
    return ok({"strategies": []})


async def deploy(call: Call) -> JsonResponse:
    strategy_id = call.path["strategy_id"]
    raise NotFound(
        f"Unknown strategy {strategy_id!r}; list them with GET /v1/strategies",
        {"strategy_id": strategy_id},
    )


OPERATIONS = (
    Operation(
        "GET",
        "/v1/strategies",
        list_strategies,
        "List strategies",
        "strategies",
        (Success(200, "The strategies it can deploy.", list_of("strategies", "Strategy")),),
    ),
    Operation(
        "POST",
        "/v1/strategies/{strategy_id}/deploy",
        deploy,
        "Deploy a strategy",
        "strategies",
        (Success(201, "The deployment.", ref("Strategy")),),
        permission="trade",
        path_params=(STRATEGY_ID,),
        body=DEPLOY_REQUEST,
        errors={404: "Unknown strategy id (NOT_FOUND)."},
    ),
)
