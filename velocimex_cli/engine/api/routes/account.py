"""Account routes: balances and positions of the key's account."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.responses import JsonResponse, ok

router = APIRouter(prefix="/v1/account", tags=["account"])


@router.get("/balance")
async def balance(request: Request) -> JsonResponse:
    principal = authenticate(request)
    return ok({"balances": request.app.state.runtime.exchange.balances(principal.account)})


@router.get("/positions")
async def positions(request: Request) -> JsonResponse:
    principal = authenticate(request)
    return ok({"positions": request.app.state.runtime.exchange.positions(principal.account)})
