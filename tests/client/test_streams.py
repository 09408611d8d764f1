"""The async StreamClient against the real engine under uvicorn on an ephemeral loopback port."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engine.api.conftest import ORDER, LiveServer, auth_headers, settings
from velocimex_cli.client.streams import (
    Backoff,
    StreamClient,
    StreamUnavailable,
    websocket_url,
)
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire.errors import AuthenticationError, InvalidParameter


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with LiveServer(app) as live:
        yield live


def keys(server: LiveServer) -> tuple[str, str]:
    headers = auth_headers(server.app.state.runtime.keys)
    return headers["X-API-Key"], headers["X-API-Secret"]


async def take(stream: Any, count: int, limit: float = 10) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    async def run() -> None:
        async for message in stream:
            out.append(message)
            if len(out) == count:
                return

    await asyncio.wait_for(run(), limit)
    return out


def test_websocket_url_from_the_rest_url() -> None:
    assert websocket_url("http://127.0.0.1:7878", "/v1/ws/market") == (
        "ws://127.0.0.1:7878/v1/ws/market"
    )
    assert websocket_url("https://api.example/v1/", "/v1/ws/orders") == (
        "wss://api.example/v1/ws/orders"
    )
    with pytest.raises(ValueError, match="http:// or https://"):
        StreamClient("ftp://x")
    with pytest.raises(ValueError, match="both api_key and api_secret"):
        StreamClient("http://x", "key")


def test_backoff_is_full_jitter_exponential_and_bounded() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(1))
    for attempt, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 4.0), (100, 4.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.8 and min(delays) < bound * 0.2  # spread over the range


def test_market_default_feed_then_subscriptions_with_received_at(server: LiveServer) -> None:
    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        client = StreamClient(server.url)
        async with client.stream_market() as stream:
            first = await take(stream, 4)
            await stream.subscribe(["binance:btc-usdt"], ["trades"])
            later = []
            async for message in stream:
                later.append(message)
                if message["type"] == "subscribed":
                    break
            await stream.send({"action": "ping"})
            async for message in stream:
                later.append(message)
                if message["type"] == "pong":
                    break
        return first, later

    first, later = asyncio.run(main())
    assert first[0]["type"] == "connection" and first[0]["state"] == "connecting"
    assert first[1] == {**first[1], "type": "connection", "state": "live", "attempt": 0}
    assert first[2]["type"] == "ticker" and isinstance(first[2]["received_at"], int)
    assert first[2]["received_at"] <= first[3]["received_at"]
    subscribed = next(m for m in later if m["type"] == "subscribed")
    assert subscribed["instruments"] == ["BINANCE:BTC/USDT"] and subscribed["channels"] == [
        "trades"
    ]
    assert later[-1]["type"] == "pong"


def test_orders_stream_with_header_and_message_auth(server: LiveServer) -> None:
    key, secret = keys(server)

    async def main(auth: str) -> list[dict[str, Any]]:
        client = StreamClient(server.url, key, secret, auth=auth)
        async with client.stream_orders() as stream:
            got = await take(stream, 3)
            response = await asyncio.to_thread(
                httpx.post,
                f"{server.url}/v1/trading/orders",
                json=ORDER,
                headers={"X-API-Key": key, "X-API-Secret": secret},
            )
            assert response.status_code == 201
            got += await take(stream, 1)
        return got

    for auth in ("headers", "message"):
        got = asyncio.run(main(auth))
        assert [m["type"] for m in got] == ["connection", "authenticated", "connection", "order"]
        assert got[2]["state"] == "live" and got[3]["event"] == "accepted"
    client = StreamClient(server.url, key, secret)
    shown = repr(client) + str(vars(client))
    assert secret not in shown


def test_refused_credentials_and_bad_subscriptions_are_raised_not_retried(
    server: LiveServer,
) -> None:
    async def orders(auth: str) -> None:
        client = StreamClient(server.url, "vmxk_nope", "wrong", auth=auth)
        await take(client.stream_orders(), 10)

    for auth in ("headers", "message"):
        with pytest.raises(AuthenticationError):
            asyncio.run(orders(auth))

    async def market() -> None:
        await take(StreamClient(server.url).stream_market(["NOPE:X"]), 10)

    with pytest.raises(InvalidParameter, match="NOPE"):
        asyncio.run(market())
    with pytest.raises(ValueError, match="unknown channel"):
        StreamClient(server.url).stream_market(channels=["candles"])
    with pytest.raises(AuthenticationError):
        StreamClient(server.url).stream_orders()


def test_reconnects_with_backoff_then_gives_up_after_max_attempts() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> list[dict[str, Any]]:
        client = StreamClient(
            f"http://127.0.0.1:{port}", backoff_base=0.01, backoff_cap=0.02, max_attempts=3
        )
        got: list[dict[str, Any]] = []
        with pytest.raises(StreamUnavailable, match="gave up after 3 attempts"):
            async for message in client.stream_market():
                got.append(message)
        return got

    got = asyncio.run(main())
    assert [m["state"] for m in got] == [
        "connecting",
        "reconnecting",
        "reconnecting",
        "reconnecting",
    ]
    assert [m["attempt"] for m in got[1:]] == [1, 2, 3]
    assert all(m["error"] == "connection refused" and 0 <= m["retry_in"] <= 0.02 for m in got[1:])


class PortServer(LiveServer):
    """LiveServer on a chosen port (to restart "the engine" where clients expect it)."""

    def __init__(self, app: Any, port: int) -> None:
        super().__init__(app)
        self.sock.close()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )


def test_survives_restarts_and_counts_attempts_afresh_after_a_stable_connection(
    tmp_path: Path,
) -> None:
    """Down at first (attempts 1, 2...), then up, then restarted: the attempt after the good
    connection is 1 again, and the replayed subscription brings a fresh snapshot."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers: list[PortServer] = []

    def start() -> None:
        server = PortServer(create_app(settings(data_dir=tmp_path / "engine")), port)
        server.__enter__()
        servers.append(server)

    def stop() -> None:
        servers[-1].__exit__(None, None, None)

    async def main() -> list[dict[str, Any]]:
        client = StreamClient(
            f"http://127.0.0.1:{port}", backoff_base=0.05, backoff_cap=0.1, stable_after=0.0
        )
        got: list[dict[str, Any]] = []
        snapshots = 0
        async for message in client.stream_market(["BINANCE:BTC/USDT"], ["book"]):
            got.append(message)
            if message.get("state") == "reconnecting" and message["attempt"] == 2 and not servers:
                await asyncio.to_thread(start)
            elif message["type"] == "book_snapshot":
                snapshots += 1
                if snapshots == 2:
                    return got
                await asyncio.to_thread(stop)
                got.append({"type": "restarting"})
                await asyncio.to_thread(start)
        return got

    try:
        got = asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        if servers:
            stop()
    states = [(m["type"], m.get("state"), m.get("attempt")) for m in got]
    first_live = states.index(("connection", "live", 2))
    assert states[1:first_live] == [
        ("connection", "reconnecting", 1),
        ("connection", "reconnecting", 2),
        ("subscribed", None, None),  # answered before the stream says "live"
    ]
    restart = states.index(("restarting", None, None))
    after = [s for s in states[:restart] if s[0] == "connection"][-1]
    assert after == ("connection", "live", 2)
    lost = [s for s in states[restart:] if s[1] == "reconnecting"]
    assert lost and lost[0][2] == 1  # counted afresh: the connection before was stable
    assert states[-1] == ("book_snapshot", None, None)


def test_a_malformed_frame_drops_the_connection_and_reconnects() -> None:
    """A server that sends garbage: the stream says so and reconnects (no crash, no yield)."""
    from websockets.asyncio.server import serve

    frames = iter(['{"type": "ticker", "n": 1}', "not json", "[1, 2]", '{"type": "ticker"}'])

    async def main() -> list[dict[str, Any]]:
        async def handler(ws: Any) -> None:
            await ws.send(next(frames))
            await ws.send(next(frames))
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            client = StreamClient(f"http://127.0.0.1:{port}", backoff_base=0.01, backoff_cap=0.01)
            return await take(client.stream_market(), 6)

    got = asyncio.run(main())
    kinds = [(m["type"], m.get("state")) for m in got]
    assert kinds == [
        ("connection", "connecting"),
        ("connection", "live"),
        ("ticker", None),
        ("connection", "reconnecting"),
        ("connection", "live"),
        ("connection", "reconnecting"),
    ]
    assert got[3]["error"].startswith("malformed message from the server")
    assert got[5]["error"].startswith("malformed message from the server")


def test_every_replayed_subscription_brings_its_snapshot_after_a_restart(tmp_path: Path) -> None:
    """Two subscriptions: after the restart both are replayed and both books are snapshotted
    (a snapshot arriving between the two answers is not lost)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers: list[PortServer] = []

    def start() -> None:
        server = PortServer(create_app(settings(data_dir=tmp_path / "engine")), port)
        server.__enter__()
        servers.append(server)

    async def main() -> list[dict[str, Any]]:
        client = StreamClient(f"http://127.0.0.1:{port}", backoff_base=0.05, backoff_cap=0.1)
        got: list[dict[str, Any]] = []
        stream = client.stream_market(["BINANCE:BTC/USDT"], ["book"])
        restarted = False
        async for message in stream:
            got.append(message)
            symbols = {m["symbol"] for m in got if m["type"] == "book_snapshot"}
            if symbols == {"BTC/USDT"} and not restarted and message["type"] == "book_snapshot":
                await stream.subscribe(["binance:eth-usdt"], ["book"])
            if symbols == {"BTC/USDT", "ETH/USDT"} and not restarted:
                restarted = True
                await asyncio.to_thread(servers[-1].__exit__, None, None, None)
                got.append({"type": "restarting"})
                await asyncio.to_thread(start)
            elif restarted:
                after = got[got.index({"type": "restarting"}) :]
                again = {m["symbol"] for m in after if m["type"] == "book_snapshot"}
                if again == {"BTC/USDT", "ETH/USDT"}:
                    await stream.aclose()
                    return got
        return got

    start()
    try:
        got = asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        servers[-1].__exit__(None, None, None)
    after = got[got.index({"type": "restarting"}) :]
    assert [m["type"] for m in after].count("subscribed") == 2


def test_a_ticker_subscription_starts_with_the_current_ticker(server: LiveServer) -> None:
    """The engine's first tickers arrive before the subscribe answer; the subscribed
    instrument's is kept, the others (the default feed) are not passed on."""

    async def main() -> list[dict[str, Any]]:
        client = StreamClient(server.url)
        async with client.stream_market(["binance:btc-usdt"], ["ticker"]) as stream:
            got = await take(stream, 4, limit=5)
        return got

    got = asyncio.run(main())
    tickers = [m for m in got if m["type"] == "ticker"]
    assert tickers and {(m["exchange"], m["symbol"]) for m in tickers} == {("BINANCE", "BTC/USDT")}


def test_decoded_numbers_are_exact_decimals_shared_through_a_bounded_cache() -> None:
    from decimal import Decimal

    from velocimex_cli.client.streams import decode
    from velocimex_cli.wire.decoding import DecimalCache

    message = decode(b'{"type": "t", "a": 150.50, "b": 150.5, "c": 0.00100, "d": 1e-8, "e": 7}')
    assert [str(message[k]) for k in "abcd"] == ["150.50", "150.5", "0.00100", "1E-8"]
    assert message["e"] == 7 and isinstance(message["e"], int)
    again = decode(b'{"type": "t", "a": 150.50}')
    assert again["a"] is message["a"]  # one Decimal per distinct text
    cache = DecimalCache(limit=3)
    for text in ("1.0", "2.0", "3.0", "4.0"):
        assert cache[text] == Decimal(text)
    assert len(cache) <= 3
