"""Market data routes: venue status, the instrument catalogue, order books and tickers."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request

from velocimex_cli.engine.api.auth import authenticate
from velocimex_cli.engine.api.request_body import int_param, str_param
from velocimex_cli.engine.api.responses import JsonResponse, ok

router = APIRouter(prefix="/v1/markets", tags=["market data"])


@router.get("/status")
async def market_status(request: Request) -> JsonResponse:
    authenticate(request)
    return ok({"markets": request.app.state.runtime.exchange.market_status()})


@router.get("")
async def markets(request: Request) -> JsonResponse:
    authenticate(request)
    exchange = str_param(request, "exchange")
    return ok({"markets": request.app.state.runtime.exchange.instruments(exchange)})


# `symbol:path` lets a raw slash through (/orderbook/BTC/USDT); %2F arrives decoded the same way.
@router.get("/{exchange}/orderbook/{symbol:path}")
async def order_book(request: Request, exchange: str, symbol: str) -> JsonResponse:
    authenticate(request)
    depth = int_param(request, "depth", 20, 1, 1000)
    return ok(request.app.state.runtime.exchange.order_book(exchange, symbol, depth))


@router.get("/{exchange}/ticker/{symbol:path}")
async def ticker(request: Request, exchange: str, symbol: str) -> JsonResponse:
    authenticate(request)
    return ok(request.app.state.runtime.exchange.ticker(exchange, symbol))
