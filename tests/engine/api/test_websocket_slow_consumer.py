"""A WebSocket peer that stops reading is closed within the send deadline and its slot freed.

Real uvicorn on an ephemeral loopback port (served as `vmx engine serve` serves it). The slow
peer is a raw socket with a tiny receive buffer that completes the handshake of /v1/ws/orders
and never reads again while thousands of order updates are produced through REST.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.api.conftest import (
    LiveServer,
    auth_headers,
    free_live_slots,
    settings,
    wait_for_free_slots,
)
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt

SEND_TIMEOUT = 0.5
GRACE = 0.3


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(
        settings(
            data_dir=tmp_path / "engine",
            ws_send_timeout_seconds=SEND_TIMEOUT,
            ws_close_grace_seconds=GRACE,
        )
    )
    live = LiveServer(app)
    # Small fixed socket buffers (accepted sockets inherit them) so a burst fills them fast.
    live.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    with live:
        yield live


def raw_handshake(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: read nothing past the handshake
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    return sock


def order(price: str) -> dict[str, str]:
    return {
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": price,
    }


def test_a_peer_that_stops_reading_is_closed_and_its_slot_freed(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runtime = server.app.state.runtime
    headers = auth_headers(runtime.keys)
    slow = raw_handshake(server.port, "/v1/ws/orders", headers)

    # A well-behaved orders client on the same account counts every update meanwhile.
    from websockets.sync.client import connect

    good_counts = {"order": 0}
    good_ready = threading.Event()
    stop = threading.Event()

    def good_reader() -> None:
        with connect(server.ws_url + "/v1/ws/orders", additional_headers=headers) as ws:
            assert jsonfmt.loads(ws.recv())["type"] == "authenticated"
            good_ready.set()
            while not stop.is_set():
                try:
                    message = jsonfmt.loads(ws.recv(timeout=0.2))
                except TimeoutError:
                    continue
                if message["type"] == "order":
                    good_counts["order"] += 1

    reader = threading.Thread(target=good_reader, daemon=True)
    reader.start()
    assert good_ready.wait(5)
    assert free_live_slots(server.ws_url, 9) == 8  # the slow peer's slot and the good reader's

    produced = 0
    started = time.monotonic()
    freed_at: float | None = None
    with httpx.Client(base_url=server.url, headers=headers) as api:
        # The burst is thousands of orders a second: lift the account's order-rate limit.
        lifted = api.patch("/v1/account/limits", json={"max_orders_per_second": None})
        assert lifted.status_code == 200, lifted.text
        while time.monotonic() - started < 20 and freed_at is None:
            for i in range(200):  # 200 accepted, then 200 canceled: 400 updates a round
                response = api.post("/v1/trading/orders", json=order(f"{50000 + i}.00"))
                assert response.status_code == 201, response.text
            assert api.delete("/v1/trading/orders").status_code == 200
            produced += 400
            if free_live_slots(server.ws_url, 9) == 9:  # the slow peer's slot is free too
                freed_at = time.monotonic()
    assert freed_at is not None, "the slow peer was never closed"
    assert produced >= 400

    # The slot is free: with the good reader's, ten connections fit again, and no more.
    assert wait_for_free_slots(lambda: free_live_slots(server.ws_url, 10), 9, 5) == 9

    # The slow peer's connection is gone: reading drains what was buffered, then EOF or reset.
    slow.settimeout(5)
    received = 0
    with pytest.raises((ConnectionResetError, EOFError)):
        while received < 50_000_000:
            chunk = slow.recv(65536)
            if not chunk:
                raise EOFError
            received += len(chunk)
    slow.close()

    # Others were unaffected: the good reader got every order update.
    deadline = time.monotonic() + 10
    while good_counts["order"] < produced and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    reader.join(5)
    assert good_counts["order"] == produced

    text = caplog.text
    assert "AssertionError" not in text and "Traceback" not in text
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert "stopped reading" in text


def test_market_peer_that_stops_reading_is_closed_too(server: LiveServer) -> None:
    """/v1/ws/market: book deltas and tickers fill the socket of a peer that never reads."""
    runtime = server.app.state.runtime
    headers = auth_headers(runtime.keys)
    slow = raw_handshake(server.port, "/v1/ws/market", {})
    mask = os.urandom(4)
    payload = b'{"action": "subscribe", "channels": ["ticker", "book", "trades"]}'
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    slow.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    started = time.monotonic()
    with httpx.Client(base_url=server.url, headers=headers) as api:
        lifted = api.patch("/v1/account/limits", json={"max_orders_per_second": None})
        assert lifted.status_code == 200, lifted.text
        freed = False
        while not freed and time.monotonic() - started < 20:
            for i in range(100):
                api.post("/v1/trading/orders", json=order(f"{50000 + i}.00"))
            api.delete("/v1/trading/orders")
            freed = free_live_slots(server.ws_url, 10) == 10
    assert freed, "the slow market peer was never closed"
    slow.close()
