"""Shared by the api and fanout benchmarks: servers in subprocesses, a lean HTTP/1.1 client.

`python -m benchmarks._loopback KIND ARG` runs one server on 127.0.0.1, port 0, served exactly as
`vmx engine serve` serves the engine (velocimex_cli.engine.api.server.uvicorn_config), and prints
`READY <port>` on stdout once it listens. Kinds: `engine DATA_DIR`, `echo`, `engine-fanout N`,
`ws-baseline N`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def subprocess_server(module: str, *args: str, greeting: list[str] | None = None) -> Iterator[int]:
    """Run `python -m MODULE ARGS...` (a server that prints `READY <port>` once it listens);
    yield its port; stop it. `KEY ...` lines before READY go to `greeting`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line.startswith("KEY "):
            if greeting is not None:
                greeting.append(line.strip())
            line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{module} {' '.join(args)} did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server(kind: str, arg: str = "", greeting: list[str] | None = None) -> Any:
    """One of this module's servers (see the docstring) in a subprocess; yields its port."""
    return subprocess_server("benchmarks._loopback", kind, arg, greeting=greeting)


def trade(i: int) -> dict[str, Any]:
    from decimal import Decimal

    return {
        "trade_id": str(1_000_000 + i),
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "price": Decimal("64123.45") + Decimal(i % 100) / 100,
        "quantity": Decimal("0.01250"),
        "side": "buy" if i % 2 else "sell",
        "timestamp": "2026-11-24T15:00:00.123456Z",
    }


# ---------------------------------------------------------------------------- lean HTTP client
async def open_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


def post_bytes(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------- servers
def _echo_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from velocimex_cli.wire import jsonfmt

    async def echo(request: Request) -> Response:
        data = jsonfmt.loads(await request.body())
        body = jsonfmt.dumps({"status": "ok", "data": data})
        return Response(body, status_code=201, media_type="application/json")

    return Starlette(routes=[Route("/v1/trading/orders", echo, methods=["POST"])])


def _engine_app(data_dir: str) -> Any:
    from velocimex_cli.engine.api.app import ServerSettings, create_app

    settings = ServerSettings(
        data_dir=Path(data_dir) if data_dir else None,
        always_open=True,
        rate_limit=False,
        simulate=False,
    )
    return create_app(settings)


def _engine_fanout_app(count: int) -> Any:
    from velocimex_cli.engine.api.app import ServerSettings, create_app

    settings = ServerSettings(
        always_open=True,
        rate_limit=False,
        simulate=False,
        market_messages_per_second=0,  # unthrottled, to measure the fan-out itself
        ws_queue_limit=count + 10,
    )
    app = create_app(settings)
    runtime = app.state.runtime

    async def publish_when_subscribed() -> None:
        while sum(1 for s in runtime.hub.market if s.wants("trades", "BINANCE:BTC/USDT")) < 10:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        for i in range(count):
            runtime.hub.publish_trade(trade(i))
            if i % 256 == 255:
                await asyncio.sleep(0)

    engine_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[None]:
        async with engine_lifespan(app_):
            publisher = asyncio.get_running_loop().create_task(publish_when_subscribed())
            yield
            publisher.cancel()

    app.router.lifespan_context = lifespan
    return app


async def _ws_baseline(count: int) -> None:
    import websockets
    from websockets.asyncio.server import broadcast, serve

    from velocimex_cli.wire import jsonfmt

    clients: set[Any] = set()
    ready = asyncio.Event()

    async def handler(ws: Any) -> None:
        await ws.recv()  # the subscribe message
        clients.add(ws)
        if len(clients) == 10:
            ready.set()
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_queue=None) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        print(f"READY {port}", flush=True)
        await ready.wait()
        await asyncio.sleep(0.2)
        for i in range(count):
            broadcast(clients, jsonfmt.dumps({"type": "trade", **trade(i)}))
            if i % 256 == 255:
                await asyncio.sleep(0)
        await asyncio.Future()


def _serve_uvicorn(app: Any) -> None:
    import uvicorn

    from velocimex_cli.engine.api.server import bind, uvicorn_config

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app))

    async def main() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        print(f"READY {sock.getsockname()[1]}", flush=True)
        await serving

    # uvicorn re-raises the signal it handled once it has shut down; make that a no-op.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


def main(argv: list[str]) -> None:
    kind, arg = argv[0], argv[1] if len(argv) > 1 else ""
    if kind == "echo":
        _serve_uvicorn(_echo_app())
    elif kind == "engine":
        _serve_uvicorn(_engine_app(arg))
    elif kind == "engine-memory":  # in-memory keys: provision one here and say it first
        app = _engine_app("")
        created = app.state.runtime.keys.create("bench")
        print(f"KEY {created.api_key} {created.api_secret}", flush=True)
        _serve_uvicorn(app)
    elif kind == "engine-fanout":
        _serve_uvicorn(_engine_fanout_app(int(arg)))
    elif kind == "ws-baseline":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_ws_baseline(int(arg)))
    else:
        raise SystemExit(f"unknown server kind {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
