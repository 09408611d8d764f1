"""The engine's API server: `create_app(settings)` builds the FastAPI application.

Routes live in `routes/` (one module per noun), the WebSockets in `ws/`. All JSON is written with
wire.jsonfmt so decimals stay exact; every error has the reference's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Scope

from velocimex_cli import __version__
from velocimex_cli.engine.api import error_handlers
from velocimex_cli.engine.api.rate_limit import EdgeMiddleware
from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.engine.api.routes import account, health, markets, strategies, trading
from velocimex_cli.engine.api.runtime import EngineRuntime
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.engine.api.ws.endpoints import market_stream, order_stream

__all__ = ["ServerSettings", "create_app"]


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

    app = FastAPI(
        title="Velocimex API (vmx embedded engine)",
        version=__version__,
        description="The Velocimex API as served by `vmx engine serve`. See docs/api.md.",
        default_response_class=JsonResponse,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    error_handlers.install(app)
    for module in (health, markets, trading, account, strategies):
        app.include_router(module.router)
    app.add_api_websocket_route("/v1/ws/market", market_stream)
    app.add_api_websocket_route("/v1/ws/orders", order_stream)

    def bucket_of(scope: Scope) -> str:
        runtime.ensure_started()
        api_key = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value.decode("latin-1")
                break
        client = scope.get("client")
        return runtime.rate_bucket(api_key, client[0] if client else None)

    app.add_middleware(EdgeMiddleware, limiter=runtime.limiter, bucket_of=bucket_of)
    return app
