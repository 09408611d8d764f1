"""Strategy routes: the contract is in place; strategies themselves arrive in a later issue.

Until a strategy registry exists the list is empty and deploy answers NOT_FOUND for any id.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.request_body import json_object
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.wire.errors import NotFound

router = APIRouter(prefix="/v1/strategies", tags=["strategies"])


@router.get("")
async def list_strategies(request: Request) -> JsonResponse:
    authenticate(request)
    return ok({"strategies": []})


@router.post("/{strategy_id}/deploy")
async def deploy(request: Request, strategy_id: str) -> JsonResponse:
    authenticate(request, "trade")
    await json_object(request, {"exchange": "string", "symbol": "string", "params": "object"})
    raise NotFound(
        f"Unknown strategy {strategy_id!r}; list them with GET /v1/strategies",
        {"strategy_id": strategy_id},
    )
