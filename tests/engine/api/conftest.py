"""Fixtures for the engine API: the real app in-process and the real app under uvicorn on 127.0.0.1.

Time is pinned (a Tuesday during US market hours) and the simulator's background task is off,
so every test sees the same seeded books.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from velocimex_cli.engine.api.app import ServerSettings, create_app
from velocimex_cli.engine.api.server import uvicorn_config
from velocimex_cli.engine.keys import KeyStore
from velocimex_cli.wire import jsonfmt

# A resting AAPL buy, used by the auth and WebSocket tests.
ORDER = {
    "exchange": "NASDAQ",
    "symbol": "AAPL",
    "side": "buy",
    "type": "limit",
    "quantity": 1,
    "price": "150.50",
}

OPEN_TIME = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York


@dataclass
class Clock:
    now: datetime = OPEN_TIME

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(**overrides: object) -> ServerSettings:
    values: dict[str, object] = {
        "simulate": False,
        "always_open": True,
        "rest_limit_per_minute": 10_000,
        "clock": Clock(),
    }
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]


def auth_headers(keys: KeyStore, account: str = "alice", **kwargs: object) -> dict[str, str]:
    created = keys.create(account, **kwargs)  # type: ignore[arg-type]
    return {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}


@dataclass
class Api:
    """One way of reaching the server (in-process or over loopback) plus a way to mint keys."""

    client: httpx.Client
    app: Starlette
    mint: Callable[..., dict[str, str]]
    base_url: str
    extra: dict[str, object] = field(default_factory=dict)

    def headers(self, account: str = "alice", **kwargs: object) -> dict[str, str]:
        return self.mint(account, **kwargs)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app() -> Starlette:
    return create_app(settings())


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def headers(app: Starlette, client: TestClient) -> dict[str, str]:
    return auth_headers(app.state.runtime.keys)


class LiveServer:
    """The real app under a real uvicorn in a thread, on an ephemeral port of `host` (an IPv4
    address; 127.0.0.1 unless a test needs another of this machine's)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1") -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}"
        config = uvicorn_config(app)  # served as `vmx engine serve` serves it
        config.timeout_graceful_shutdown = 2
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with LiveServer(app) as server:
        yield server


@pytest.fixture(params=["inprocess", "loopback"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The same contract, checked against the app in-process and under uvicorn."""
    if request.param == "inprocess":
        app = create_app(settings())
        with TestClient(app) as test_client:
            yield Api(
                test_client,
                app,
                lambda account="alice", **kw: auth_headers(app.state.runtime.keys, account, **kw),
                "http://testserver",
            )
        return
    data_dir = tmp_path / "engine"
    app = create_app(settings(data_dir=data_dir))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        keys = KeyStore.open(data_dir)  # a second connection, as `vmx engine keys` would use
        try:
            yield Api(
                http,
                app,
                lambda account="alice", **kw: auth_headers(keys, account, **kw),
                server.url,
            )
        finally:
            keys.close()


def receive(ws: Any) -> dict[str, Any]:
    return jsonfmt.loads(ws.receive_text())


def receive_until(ws: Any, wanted: str, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        message = receive(ws)
        if message["type"] == wanted:
            return message
    raise AssertionError(f"no {wanted} message")


# What a client sees of the engine's per-IP WebSocket connection slots: whether one more
# connection is accepted (a market stream's first message is a ticker) or refused (closed with
# 1008, "connection limit of N per IP reached").


def free_slots(client: TestClient, most: int) -> int:
    """How many more connections the in-process app accepts from the test client now, counting
    up to `most`: market streams opened one by one until one is refused, then all closed."""
    from starlette.websockets import WebSocketDisconnect

    with contextlib.ExitStack() as stack:
        for accepted in range(most):
            ws = stack.enter_context(client.websocket_connect("/v1/ws/market"))
            try:
                assert receive(ws)["type"] == "ticker"
            except WebSocketDisconnect as refused:
                assert refused.code == 1008 and "connection limit" in refused.reason, refused
                return accepted
    return most


def free_live_slots(ws_url: str, most: int) -> int:
    """`free_slots` over real sockets: how many more connections the server at `ws_url` accepts
    from 127.0.0.1 now, counting up to `most`."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with contextlib.ExitStack() as stack:
        for accepted in range(most):
            ws = stack.enter_context(connect(ws_url + "/v1/ws/market"))
            try:
                assert jsonfmt.loads(ws.recv(timeout=5))["type"] == "ticker"
            except ConnectionClosed as refused:
                assert refused.rcvd is not None and refused.rcvd.code == 1008, refused
                return accepted
    return most


def wait_for_free_slots(count: Callable[[], int], wanted: int, seconds: float) -> int:
    """`count()` (a `free_slots` probe) once it reaches `wanted`: the server frees a closed
    connection's slot a moment later, the probes' own too (so a probe never counts too many)."""
    deadline = time.monotonic() + seconds
    while (free := count()) < wanted:
        assert time.monotonic() < deadline, f"{free} free connection slots, not {wanted}"
        time.sleep(0.02)
    return free
