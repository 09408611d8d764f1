"""The engine's API server: `create_app(settings)` builds the Starlette application.

REST routes are declared in `routes/` (one module per noun, each an `OPERATIONS` table, see
operations.py); the same table serves them and generates /openapi.json. The WebSockets are in
`ws/`. All JSON is written with wire.jsonfmt so decimals stay exact; every error has the
reference's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Scope

from velocimex_cli import __version__
from velocimex_cli.engine.api import error_handlers, openapi, operations
from velocimex_cli.engine.api.auth import rate_bucket
from velocimex_cli.engine.api.operations import Operation
from velocimex_cli.engine.api.rate_limit import EdgeMiddleware
from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.engine.api.routes import (
    account,
    candles,
    health,
    markets,
    own_key,
    strategies,
    trading,
)
from velocimex_cli.engine.api.runtime import EngineRuntime
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.engine.api.ws.endpoints import market_stream, order_stream

__all__ = ["ServerSettings", "create_app"]

TITLE = "Velocimex API (vmx embedded engine)"
DESCRIPTION = "The Velocimex API as served by `vmx engine serve`. See docs/api.md."


def rest_operations() -> tuple[Operation, ...]:
    """The REST API's route table, hottest first (the router tries paths in order)."""
    return tuple(
        operation
        for module in (trading, markets, candles, account, strategies, own_key, health)
        for operation in module.OPERATIONS
    )


def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The engine's ASGI app: Starlette, served as its documentation describes.

    The stack, outermost first: Starlette's server-error layer, the edge (rate limit, its
    headers, the last-resort 500 in the reference's shape; it serves a route-table path
    without parameters straight from its endpoint, which answers its own errors), then
    Starlette's exception middleware (the reference's error shape) and router. Every route is
    the route table's (operations.py), the two WebSockets, and /openapi.json generated from the
    same table.
    """
    settings = settings or ServerSettings()
    runtime = EngineRuntime(settings)
    table = rest_operations()
    document: dict[str, Any] = {}

    async def openapi_json(request: Request) -> JsonResponse:
        if not document:
            document.update(
                openapi.document(
                    table,
                    title=TITLE,
                    version=__version__,
                    description=DESCRIPTION,
                    rate_limited=runtime.limiter is not None,
                )
            )
        return JsonResponse(document)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    def bucket_of(scope: Scope) -> str:
        runtime.ensure_started()
        return rate_bucket(runtime, scope)

    routes: list[BaseRoute] = [
        *operations.routes(table, runtime),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        WebSocketRoute("/v1/ws/market", market_stream),
        WebSocketRoute("/v1/ws/orders", order_stream),
    ]
    edge = Middleware(
        EdgeMiddleware,
        limiter=runtime.limiter,
        bucket_of=bucket_of,
        direct=operations.direct_paths(routes),
    )
    app = Starlette(
        routes=routes,
        middleware=[edge],
        exception_handlers=error_handlers.HANDLERS,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.operations = table
    return app
