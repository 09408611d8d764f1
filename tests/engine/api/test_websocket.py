"""WebSockets in-process: default feed, subscriptions, book sequences, order updates, limits."""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.engine.api.conftest import (
    ORDER,
    auth_headers,
    free_slots,
    receive,
    receive_until,
    settings,
    wait_for_free_slots,
)
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt


def test_market_stream_sends_every_ticker_without_a_request(client: TestClient) -> None:
    markets = client.get("/v1/markets", headers=auth_headers(client.app.state.runtime.keys)).json()[
        "data"
    ]["markets"]
    with client.websocket_connect("/v1/ws/market") as ws:
        seen = {}
        for _ in markets:
            message = receive(ws)
            assert message["type"] == "ticker"
            assert set(message) == {
                "type", "timestamp", "exchange", "symbol", "price", "volume", "bid", "ask"
            }  # fmt: skip
            seen[f"{message['exchange']}:{message['symbol']}"] = message
    assert len(seen) == len(markets)


def test_book_snapshot_then_deltas_in_sequence(client: TestClient, headers: dict[str, str]) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text(
            '{"action": "subscribe", "channels": ["book"], "instruments": ["nasdaq:aapl"]}'
        )
        reply = receive_until(ws, "subscribed")
        assert reply == {"type": "subscribed", "channels": ["book"], "instruments": ["NASDAQ:AAPL"]}
        snapshot = receive(ws)
        assert snapshot["type"] == "book_snapshot" and snapshot["symbol"] == "AAPL"
        assert snapshot["bids"] and snapshot["asks"]
        sequence = snapshot["sequence"]
        for price in ("150.50", "150.40"):
            response = client.post(
                "/v1/trading/orders", json={**ORDER, "price": price}, headers=headers
            )
            assert response.status_code == 201
            delta = receive(ws)
            assert delta["type"] == "book_delta"
            assert delta["sequence"] == sequence + 1
            sequence = delta["sequence"]
            assert {"side": "bid", "price": Decimal(price), "quantity": 1} in delta["changes"]


def test_trades_channel(client: TestClient, headers: dict[str, str]) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text(
            '{"action": "subscribe", "channels": ["trades"], "instruments": ["NASDAQ:AAPL"]}'
        )
        receive_until(ws, "subscribed")
        market = {**ORDER, "type": "market", "price": None, "quantity": 2}
        assert client.post("/v1/trading/orders", json=market, headers=headers).status_code == 201
        trade = receive(ws)
        assert trade["type"] == "trade" and trade["side"] == "buy" and trade["symbol"] == "AAPL"
        assert set(trade) >= {"trade_id", "exchange", "price", "quantity", "timestamp"}


def test_bad_messages_get_error_replies(client: TestClient) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        for text, parameter in (
            ("not json", "message"),
            ('{"action": "dance"}', "action"),
            ('{"action": "subscribe", "channels": ["news"]}', "channels"),
            ('{"action": "subscribe", "channels": ["book"], "instruments": ["X:Y"]}', "exchange"),
        ):
            ws.send_text(text)
            error = receive_until(ws, "error")
            assert error["error"]["code"] == "INVALID_PARAMETER"
            assert error["error"]["details"]["parameter"] == parameter


def test_both_streams_answer_a_ping_and_the_orders_stream_takes_nothing_else(
    client: TestClient, headers: dict[str, str]
) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text('{"action": "ping"}')
        assert receive_until(ws, "pong") == {"type": "pong"}
    with client.websocket_connect("/v1/ws/orders", headers=dict(headers)) as ws:
        assert receive(ws)["type"] == "authenticated"
        ws.send_text('{"action": "ping"}')
        assert receive(ws) == {"type": "pong"}
        ws.send_text('{"action": "subscribe", "channels": ["book"]}')
        error = receive(ws)["error"]
        assert error["message"] == "Nothing to do: this stream only sends order updates"
        assert error["details"] == {"parameter": "action", "value": "subscribe"}
        ws.send_text("[1]")
        assert receive(ws)["error"]["message"] == "Messages must be JSON objects"
        ws.send_text('{"action": "ping"}')  # the stream goes on
        assert receive(ws) == {"type": "pong"}


def test_unsubscribe(client: TestClient) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text('{"action": "unsubscribe", "channels": ["ticker"]}')
        reply = receive_until(ws, "unsubscribed")
        assert reply["channels"] == ["ticker"]


def test_orders_stream_with_header_auth(client: TestClient, headers: dict[str, str]) -> None:
    with client.websocket_connect("/v1/ws/orders", headers=dict(headers)) as ws:
        assert receive(ws) == {"type": "authenticated", "account": "alice"}
        placed = client.post("/v1/trading/orders", json=ORDER, headers=headers).json()["data"]
        update = receive(ws)
        assert update["type"] == "order" and update["event"] == "accepted"
        assert update["order_id"] == placed["order_id"] and update["status"] == "open"
        assert update["order_type"] == "limit"
        client.delete(f"/v1/trading/orders/{placed['order_id']}", headers=headers)
        update = receive(ws)
        assert (update["event"], update["status"]) == ("canceled", "canceled")
        market = {**ORDER, "type": "market", "price": None}
        client.post("/v1/trading/orders", json=market, headers=headers)
        kinds = [(m["type"], m.get("event")) for m in (receive(ws), receive(ws), receive(ws))]
        assert ("fill", None) in kinds and ("order", "filled") in kinds


def test_orders_stream_with_first_message_auth_and_isolation(
    app: Starlette, client: TestClient, headers: dict[str, str]
) -> None:
    other = app.state.runtime.keys.create("bob")
    with client.websocket_connect("/v1/ws/orders") as ws:
        ws.send_text(
            jsonfmt.dumps(
                {"action": "auth", "api_key": other.api_key, "api_secret": other.api_secret}
            )
        )
        assert receive(ws) == {"type": "authenticated", "account": "bob"}
        client.post("/v1/trading/orders", json=ORDER, headers=headers)  # alice's order
        bob = {"X-API-Key": other.api_key, "X-API-Secret": other.api_secret}
        mine = client.post("/v1/trading/orders", json=ORDER, headers=bob).json()["data"]
        assert receive(ws)["order_id"] == mine["order_id"]  # alice's never arrives


@pytest.mark.parametrize(
    "first",
    [
        '{"action": "auth", "api_key": "vmxk_nope", "api_secret": "x"}',
        '{"action": "subscribe"}',
    ],
)
def test_orders_stream_refuses_bad_auth(client: TestClient, first: str) -> None:
    with client.websocket_connect("/v1/ws/orders") as ws:
        ws.send_text(first)
        message = receive(ws)
        assert message["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


def test_orders_stream_auth_times_out() -> None:
    app = create_app(settings(ws_auth_timeout_seconds=0.2))
    with TestClient(app) as client, client.websocket_connect("/v1/ws/orders") as ws:
        message = receive(ws)
        assert message["type"] == "error" and "within" in message["error"]["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008
        assert closed.value.reason == "authentication timed out"


def test_connection_limit_per_ip(
    app: Starlette, client: TestClient, headers: dict[str, str]
) -> None:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(client.websocket_connect("/v1/ws/market")) for _ in range(9)]
        stack.enter_context(client.websocket_connect("/v1/ws/orders", headers=dict(headers)))
        with client.websocket_connect("/v1/ws/market") as refused:
            with pytest.raises(WebSocketDisconnect) as closed:
                refused.receive_text()
            assert closed.value.code == 1008
            assert closed.value.reason == "connection limit of 10 per IP reached"
        sockets[0].close()
        wait_for_free_slots(lambda: free_slots(client, 1), 1, 2)
        with client.websocket_connect("/v1/ws/market") as again:
            assert receive(again)["type"] == "ticker"
    assert wait_for_free_slots(lambda: free_slots(client, 11), 10, 2) == 10  # all freed


def test_slow_consumer_gets_a_fresh_snapshot_instead_of_a_backlog() -> None:
    app = create_app(settings(market_messages_per_second=50, ws_queue_limit=3))
    with TestClient(app) as client:
        headers = auth_headers(app.state.runtime.keys)
        with client.websocket_connect("/v1/ws/market") as ws:
            ws.send_text(
                '{"action": "subscribe", "channels": ["book"], "instruments": ["NASDAQ:AAPL"]}'
            )
            receive_until(ws, "subscribed")
            sequence = receive(ws)["sequence"]
            for step in range(30):
                price = f"{Decimal('150.00') - Decimal(step) / 100:.2f}"
                client.post("/v1/trading/orders", json={**ORDER, "price": price}, headers=headers)
            final = client.get("/v1/markets/NASDAQ/orderbook/AAPL", headers=headers).json()
            last = final["data"]["sequence"]
            kinds = []
            while sequence < last:
                message = receive(ws)
                kinds.append(message["type"])
                if message["type"] == "book_delta":
                    assert message["sequence"] == sequence + 1, "gap without a snapshot"
                sequence = message["sequence"]
            assert "book_snapshot" in kinds
            assert len(kinds) < 30


def test_market_messages_are_paced_per_connection() -> None:
    app = create_app(settings(market_messages_per_second=50))
    with TestClient(app) as client, client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text('{"action": "subscribe", "channels": ["book"]}')
        receive(ws)
        started = time.monotonic()
        count = len(app.state.runtime.instrument_keys())  # one snapshot each, then tickers
        for _ in range(count):
            receive(ws)
        elapsed = time.monotonic() - started
    # 50 per second with a burst of 5: the rest of the messages take their time.
    assert elapsed >= (count - 5) / 50 * 0.9, f"{count} messages in {elapsed:.3f} s"


def test_orders_stream_closes_when_its_key_is_revoked() -> None:
    app = create_app(settings(ws_key_check_seconds=0.05))
    with TestClient(app) as client:
        created = app.state.runtime.keys.create("alice")
        headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
        with client.websocket_connect("/v1/ws/orders", headers=headers) as ws:
            assert receive(ws)["type"] == "authenticated"
            app.state.runtime.keys.revoke(created.api_key)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert (closed.value.code, closed.value.reason) == (1008, "API key revoked")


def test_deeply_nested_message_gets_an_error_reply(client: TestClient) -> None:
    with client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text('{"a":' * 5000 + "1" + "}" * 5000)
        error = receive_until(ws, "error")
        assert error["error"]["details"]["parameter"] == "message"
