"""Over real sockets: uvicorn on 127.0.0.1, the websockets client, and restarts on one data dir."""

from __future__ import annotations

import contextlib
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.engine.api.conftest import LiveServer, free_live_slots, settings, wait_for_free_slots
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.keys import KeyStore
from velocimex_cli.wire import jsonfmt

ORDER = {
    "exchange": "BINANCE",
    "symbol": "BTC/USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.01000",
    "price": "1000.00",
}


def receive(ws: ClientConnection) -> dict[str, Any]:
    return jsonfmt.loads(ws.recv(timeout=5))


def test_reference_snippet_receives_market_data(live: LiveServer) -> None:
    with connect(live.ws_url + "/v1/ws/market") as ws:
        message = receive(ws)
    assert message["type"] == "ticker"
    assert {"timestamp", "exchange", "symbol", "price", "volume", "bid", "ask"} <= set(message)


def test_orders_stream_over_loopback(live: LiveServer, tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path / "engine")
    created = store.create("alice")
    store.close()
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    with connect(live.ws_url + "/v1/ws/orders", additional_headers=headers) as ws:
        assert receive(ws)["type"] == "authenticated"
        response = httpx.post(live.url + "/v1/trading/orders", json=ORDER, headers=headers)
        assert response.status_code == 201, response.text
        update = receive(ws)
        assert (update["type"], update["event"]) == ("order", "accepted")
        assert update["symbol"] == "BTC/USDT"


def test_connection_limit_and_prompt_release(live: LiveServer) -> None:
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(live.ws_url + "/v1/ws/market")) for _ in range(10)]
        refused = stack.enter_context(connect(live.ws_url + "/v1/ws/market"))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                refused.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "connection limit of 10 per IP reached"
        # A client that vanishes without a closing handshake (idle, nothing to send) frees its
        # slot as soon as its TCP connection drops.
        clients[3].socket.shutdown(socket.SHUT_RDWR)
        clients[3].socket.close()
        wait_for_free_slots(lambda: free_live_slots(live.ws_url, 1), 1, 3)
        with connect(live.ws_url + "/v1/ws/market") as again:
            assert receive(again)["type"] == "ticker"


def test_restart_keeps_open_orders(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    store = KeyStore.open(data_dir)
    created = store.create("alice")
    store.close()
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    with LiveServer(create_app(settings(data_dir=data_dir))) as first:
        placed = httpx.post(first.url + "/v1/trading/orders", json=ORDER, headers=headers)
        assert placed.status_code == 201
        order_id = placed.json()["data"]["order_id"]
    with LiveServer(create_app(settings(data_dir=data_dir))) as second:
        listed = httpx.get(second.url + "/v1/trading/orders", headers=headers).json()
        assert [o["order_id"] for o in listed["data"]["orders"]] == [order_id]
        response = httpx.get(
            second.url + "/v1/markets/BINANCE/orderbook/BTC-USDT?depth=1000", headers=headers
        )
        bids = jsonfmt.loads(response.content)["data"]["bids"]
        assert {"price": Decimal("1000.00"), "quantity": Decimal("0.01000")} in bids
        canceled = httpx.delete(f"{second.url}/v1/trading/orders/{order_id}", headers=headers)
        assert canceled.json()["data"]["status"] == "canceled"


def test_shutdown_closes_websockets_cleanly(tmp_path: Path) -> None:
    server = LiveServer(create_app(settings(data_dir=tmp_path / "engine")))
    with server, connect(server.ws_url + "/v1/ws/market") as ws:
        assert receive(ws)["type"] == "ticker"
        server.server.should_exit = True
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code in (1001, 1012)


def test_simulated_market_streams_contiguous_book_deltas(tmp_path: Path) -> None:
    app = create_app(settings(simulate=True, simulate_interval_seconds=0.02))
    # max_queue=None: the client keeps reading while it closes, or a full client-side queue
    # would hide the server's closing frame from it.
    with (
        LiveServer(app) as server,
        connect(server.ws_url + "/v1/ws/market", max_queue=None) as ws,
    ):
        ws.send('{"action": "subscribe", "channels": ["book", "trades"]}')
        sequences: dict[str, int] = {}
        deltas = 0
        deadline = time.monotonic() + 10
        while deltas < 40:
            assert time.monotonic() < deadline, "the simulator produced too few deltas"
            message = receive(ws)
            key = f"{message.get('exchange')}:{message.get('symbol')}"
            if message["type"] == "book_snapshot":
                sequences[key] = message["sequence"]
            elif message["type"] == "book_delta":
                assert key in sequences, "delta before its snapshot"
                assert message["sequence"] == sequences[key] + 1
                sequences[key] = message["sequence"]
                deltas += 1
