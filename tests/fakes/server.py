"""The plumbing every fake exchange shares: a Starlette app (REST routes and one WebSocket
route) served by uvicorn on an ephemeral loopback port in the test's own event loop.

Faults it gives every venue: `unreachable` until `come_up()` (the port is bound but not
listening, so connections are refused), `drop()` (abort every open TCP connection), `stall()`
(connections open now receive nothing more; new ones are served normally). It records every
request it serves (`requests`), so a test can show ccxt talked to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

RestHandler = Callable[[Request], Awaitable[Any] | Any]


class Connection:
    """One client WebSocket: what it subscribed to, and its outgoing messages in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.topics: set[str] = set()
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.stalled = False
        self.sent_numbers = 0  # for venues that number each connection's messages

    def send(self, message: Any) -> None:
        if not self.stalled:
            self.outbox.put_nowait(json.dumps(message))


class FakeServer:
    def __init__(
        self,
        rest: dict[str, RestHandler],
        ws_path: str,
        on_message: Callable[[Connection, Any], None],
    ) -> None:
        self.requests: list[str] = []
        self.connections: list[Connection] = []
        self._on_message = on_message
        routes: list[Any] = [
            Route(path, self._rest_endpoint(handler)) for path, handler in rest.items()
        ]
        routes.append(WebSocketRoute(ws_path, self._ws_endpoint))
        self._app = Starlette(routes=routes)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def add_rest(self, path: str, handler: RestHandler) -> None:
        """One more REST route (a benchmark's trigger, a test's probe)."""
        self._app.router.routes.append(Route(path, self._rest_endpoint(handler)))

    # -- addresses -----------------------------------------------------------------------

    def http(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ws(self, path: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    # -- life ----------------------------------------------------------------------------

    async def come_up(self) -> None:
        """Start listening (until now, connections to the port are refused)."""
        config = uvicorn.Config(
            self._record,
            log_level="error",
            lifespan="off",
            ws="websockets-sansio",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            await asyncio.sleep(0.005)

    async def served(self) -> None:
        """Until the server stops (a subprocess serving until SIGTERM)."""
        assert self._task is not None
        await self._task

    async def stop(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(Exception):
                await connection.websocket.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
        self._socket.close()

    # -- faults --------------------------------------------------------------------------

    def drop(self) -> None:
        """Abort every open connection (REST keep-alives and WebSockets) as a network would."""
        assert self._server is not None
        for protocol in list(self._server.server_state.connections):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()

    def stall(self) -> None:
        """Connections open now receive nothing more; the venue still accepts new ones."""
        for connection in self.connections:
            connection.stalled = True

    # -- publishing ----------------------------------------------------------------------

    async def subscribed(self, topic: str, timeout: float = 10.0) -> None:
        """Wait until some open connection is subscribed to `topic` (a client's trade stream
        may subscribe after its book is whole: a print before then reaches nobody)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(topic in c.topics and not c.stalled for c in self.connections):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"nobody subscribed to {topic}")
            await asyncio.sleep(0.005)

    def publish(self, topic: str, message: Any | Callable[[Connection], Any]) -> None:
        for connection in self.connections:
            if topic in connection.topics:
                connection.send(message(connection) if callable(message) else message)

    # -- ASGI ----------------------------------------------------------------------------

    async def _record(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            query = scope.get("query_string", b"").decode()
            self.requests.append(
                f"{scope.get('method', 'WS')} {scope['path']}" + (f"?{query}" if query else "")
            )
        await self._app(scope, receive, send)

    def _rest_endpoint(self, handler: RestHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            result = handler(request)
            if asyncio.iscoroutine(result):
                result = await result
            if isinstance(result, Response):
                return result
            return JSONResponse(result)

        return endpoint

    async def _ws_endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        connection = Connection(websocket)
        self.connections.append(connection)

        async def writer() -> None:
            while True:
                text = await connection.outbox.get()
                await websocket.send_text(text)

        writing = asyncio.create_task(writer())
        try:
            while True:
                text = await websocket.receive_text()
                if not connection.stalled:
                    self._on_message(connection, json.loads(text))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
            self.connections.remove(connection)
