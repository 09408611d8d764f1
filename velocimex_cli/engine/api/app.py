"""The engine's API server: `create_app(settings)` builds the FastAPI application.

REST routes are declared in `routes/` (one module per noun, each an `OPERATIONS` table, see
operations.py); the same table serves them and generates /openapi.json. The WebSockets are in
`ws/`. All JSON is written with wire.jsonfmt so decimals stay exact; every error has the
reference's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from velocimex_cli import __version__
from velocimex_cli.engine.api import error_handlers, openapi, operations
from velocimex_cli.engine.api.auth import rate_bucket
from velocimex_cli.engine.api.operations import Operation
from velocimex_cli.engine.api.rate_limit import EdgeMiddleware
from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.engine.api.routes import (
    account,
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


class EngineApi(FastAPI):
    """FastAPI for the lifespan and the docs pages; a lean request path for serving.

    FastAPI wraps every request in layers this app does not use: a per-request OpenTelemetry
    check, exception telemetry, a body-size limit (the routes enforce their own, with the
    reference's error shape) and an exit stack for dependencies with `yield` (the lean routes
    have none); Starlette adds a server-error layer, the exception middleware and the router.
    Here HTTP and WebSocket scopes go to the edge (rate limit, headers, last-resort 500), which
    serves a route-table path without parameters straight from its endpoint (each endpoint
    answers its own errors) and everything else through Starlette's exception middleware and
    router. The lifespan stays FastAPI's.
    """

    edge_options: dict[str, Any]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await Starlette.__call__(self, scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        routed = ExceptionMiddleware(self.router, handlers=self.exception_handlers)
        direct = operations.direct_paths(self.router.routes)
        return EdgeMiddleware(routed, direct=direct, **self.edge_options)


def rest_operations() -> tuple[Operation, ...]:
    """The REST API's route table, hottest first (the router tries paths in order)."""
    return tuple(
        operation
        for module in (trading, markets, account, strategies, own_key, health)
        for operation in module.OPERATIONS
    )


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    runtime = EngineRuntime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = EngineApi(
        title="Velocimex API (vmx embedded engine)",
        version=__version__,
        description="The Velocimex API as served by `vmx engine serve`. See docs/api.md.",
        default_response_class=JsonResponse,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    table = rest_operations()
    app.state.operations = table

    def openapi_document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.document(
                table,
                title=app.title,
                version=app.version,
                description=app.description,
                rate_limited=runtime.limiter is not None,
            )
        return app.openapi_schema

    app.openapi = openapi_document  # type: ignore[method-assign]  # FastAPI's documented hook
    error_handlers.install(app)
    app.router.routes[:0] = operations.routes(table, runtime)
    app.add_api_websocket_route("/v1/ws/market", market_stream)
    app.add_api_websocket_route("/v1/ws/orders", order_stream)

    def bucket_of(scope: Scope) -> str:
        runtime.ensure_started()
        return rate_bucket(runtime, scope)

    app.edge_options = {"limiter": runtime.limiter, "bucket_of": bucket_of}
    return app
