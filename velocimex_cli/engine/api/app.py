"""The engine's API server: `create_app(settings)` builds the FastAPI application.

Routes live in `routes/` (one module per noun), the WebSockets in `ws/`. All JSON is written with
wire.jsonfmt so decimals stay exact; every error has the reference's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from velocimex_cli import __version__
from velocimex_cli.engine.api import error_handlers
from velocimex_cli.engine.api.rate_limit import EdgeMiddleware
from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.engine.api.routes import account, health, markets, strategies, trading
from velocimex_cli.engine.api.runtime import EngineRuntime
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.engine.api.ws.endpoints import market_stream, order_stream

__all__ = ["ServerSettings", "create_app"]


class EngineApi(FastAPI):
    """FastAPI for the routes' declarations, the OpenAPI document and the docs; Starlette's own
    request path for serving.

    FastAPI wraps every request in layers this app does not use: a per-request OpenTelemetry
    check, exception telemetry, a body-size limit (the routes enforce their own, with the
    reference's error shape) and an exit stack for dependencies with `yield` (the lean routes
    have none). Together they were ~10% of an order request. Serving HTTP and WebSocket
    scopes the way Starlette does drops them; the lifespan stays FastAPI's.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await Starlette.__call__(self, scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        return Starlette.build_middleware_stack(self)


def serve_lean(app: FastAPI, routers: list[APIRouter], runtime: EngineRuntime) -> None:
    """Serve each REST route through a plain Starlette Route placed ahead of its APIRoute.

    The endpoints take the Request and do their own parsing, so FastAPI's dependency solving
    adds nothing but time (it was ~40% of an order's in-process cost). The APIRoutes stay,
    shadowed, so /openapi.json still documents every route. Every answer waits until what it
    reports is durable (group commit: see `EngineRuntime.committed`).
    """
    lean: list[Route] = []
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute):
            lean.append(
                Route(
                    route.path,
                    _Durable(route.endpoint, runtime),
                    methods=sorted(route.methods or ()),
                    include_in_schema=False,
                )
            )
    for index, route in enumerate(lean):
        app.router.routes.insert(index, route)


class _Durable:
    """A REST endpoint as a bare ASGI app: the answer is sent once what it reports is durable.

    Starlette would wrap a plain function in a second exception-handling layer and a Response
    call; the app's ExceptionMiddleware already turns every error into the reference's shape.
    """

    __slots__ = ("committed", "endpoint")

    def __init__(
        self, endpoint: Callable[..., Awaitable[Response]], runtime: EngineRuntime
    ) -> None:
        self.endpoint = endpoint
        self.committed = runtime.committed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.endpoint(request, **scope["path_params"])
        await self.committed()
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def _openapi_with_keys(app: FastAPI) -> dict[str, Any]:
    """The generated document plus the two API-key headers every non-public route needs."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        schemes["ApiSecret"] = {"type": "apiKey", "in": "header", "name": "X-API-Secret"}
        schema["security"] = [{"ApiKey": [], "ApiSecret": []}]
        for path, item in schema.get("paths", {}).items():
            if path == "/v1/health":
                for operation in item.values():
                    operation["security"] = []
        app.openapi_schema = schema
    return app.openapi_schema


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
    app.openapi = lambda: _openapi_with_keys(app)  # type: ignore[method-assign]
    error_handlers.install(app)
    # Hottest first: the router tries routes in order.
    routers = [module.router for module in (trading, markets, account, strategies, health)]
    for router in routers:
        app.include_router(router)
    serve_lean(app, routers, runtime)
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
