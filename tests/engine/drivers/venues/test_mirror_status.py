"""The feed's state, honest: GET /v1/markets/status, MARKET_CLOSED while down, book_status on
the WebSocket, an unreachable venue at start, and a restart with no network."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.engine.drivers.venues import scripted_venue
from tests.engine.drivers.venues.scripted_venue import (
    BTC,
    D,
    Mirrored,
    ScriptedSource,
    changes,
    down,
    snapshot,
    trade,
)
from velocimex_cli.wire import jsonfmt


def receive_until(ws: Any, wanted: str, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        message = jsonfmt.loads(ws.receive_text())
        if message["type"] == wanted:
            return message
    raise AssertionError(f"no {wanted} message")


def test_status_lag_and_reconnects_and_market_closed_while_down(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    row = mirrored.status()
    assert row["status"] == "halted" and "snapshot" in row["reason"]
    source.push(snapshot([("100.00", "1")], [("100.01", "1")], t=0))
    source.push(changes([("100.00", "2")], t=1.5))  # read 20 ms after the venue's time
    row = mirrored.status()
    assert row["status"] == "open" and row["reason"] is None
    assert row["last_update"] == "2026-11-24T15:00:01.500000Z"
    assert row["feed"] == {"source": "binance", "lag_ms": 20, "reconnects": 0}
    resting = mirrored.order(side="buy", price="99.00", quantity="0.1").json()["data"]

    source.push(down("sequence gap: update 1204 after 1190"))
    row = mirrored.status()
    assert row["status"] == "halted" and "sequence gap" in row["reason"]
    market = mirrored.order(side="buy", type="market", quantity="0.1", price=None)
    assert market.status_code == 409
    error = market.json()["error"]
    assert error["code"] == "MARKET_CLOSED" and "sequence gap" in error["message"]
    marketable = mirrored.order(side="buy", price="100.01", quantity="0.1")
    assert marketable.json()["error"]["code"] == "MARKET_CLOSED"
    # Orders that only rest are accepted, the resting one stays, cancels work.
    assert mirrored.order(side="buy", price="98.00", quantity="0.1").status_code == 201
    assert mirrored.get(f"/v1/trading/orders/{resting['order_id']}")["status"] == "open"
    cancel = mirrored.client.delete(
        f"/v1/trading/orders/{resting['order_id']}", headers=mirrored.headers
    )
    assert cancel.status_code == 200 and cancel.json()["data"]["status"] == "canceled"
    # NASDAQ stays simulated and open meanwhile.
    rows = {r["exchange"]: r for r in mirrored.get("/v1/markets/status")["markets"]}
    assert rows["NASDAQ"]["status"] == "open" and "feed" not in rows["NASDAQ"]

    source.push(snapshot([("100.00", "1")], [("100.01", "1")], t=2))
    row = mirrored.status()
    assert row["status"] == "open" and row["feed"]["reconnects"] == 1
    market = mirrored.order(side="buy", type="market", quantity="0.1", price=None)
    assert market.status_code == 201, market.text


def test_the_book_channel_says_when_the_book_is_not_valid(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    subscribe = '{"action": "subscribe", "channels": ["book"], "instruments": ["BINANCE:BTC/USDT"]}'
    with mirrored.client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text(subscribe)
        receive_until(ws, "book_snapshot")
        status = receive_until(ws, "book_status")  # after the snapshot, while not valid
        assert status["valid"] is False and "snapshot" in status["reason"]
        source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
        status = receive_until(ws, "book_status")
        assert status["valid"] is True and status["reason"] is None
        fresh = receive_until(ws, "book_snapshot")
        assert [D(str(b["price"])) for b in fresh["bids"]] == [D("100.00")]
        source.push(changes([("100.00", "3")], t=1))
        delta = receive_until(ws, "book_delta")
        assert delta["sequence"] == fresh["sequence"] + 1
        assert [(c["side"], D(str(c["quantity"]))) for c in delta["changes"]] == [("bid", D(3))]
        source.push(down("connection closed"))
        status = receive_until(ws, "book_status")
        assert status == {**status, "valid": False, "reason": "connection closed"}


def test_every_venue_trade_is_on_the_trades_channel(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    subscribe = (
        '{"action": "subscribe", "channels": ["trades"], "instruments": ["BINANCE:BTC/USDT"]}'
    )
    source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
    with mirrored.client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text(subscribe)
        receive_until(ws, "subscribed")
        source.push(trade("100.01", "0.25", "buy", t=1))
        message = receive_until(ws, "trade")
        assert (message["exchange"], message["symbol"], message["side"]) == (
            "BINANCE",
            "BTC/USDT",
            "buy",
        )
        assert D(str(message["price"])) == D("100.01")
        assert D(str(message["quantity"])) == D("0.25")


def test_an_unreachable_venue_at_start_halts_only_its_exchange_until_it_answers(
    tmp_path: Path,
) -> None:
    source = ScriptedSource(unreachable="binance GET https://api.binance.com: connection refused")
    scripted_venue.retries.clear()
    with Mirrored(source, tmp_path / "engine") as engine:
        deadline = time.monotonic() + 5
        while source.market_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        row = engine.status()
        assert row["status"] == "halted" and "connection refused" in row["reason"]
        assert scripted_venue.retries[:3] == [0.5, 1.0, 2.0]  # backoff
        aapl = {"exchange": "NASDAQ", "symbol": "AAPL", "side": "buy", "type": "limit",
                "quantity": 1, "price": "150.00"}  # fmt: skip
        placed = engine.client.post("/v1/trading/orders", json=aapl, headers=engine.headers)
        assert placed.status_code == 201  # the simulated exchanges serve meanwhile
        source.unreachable = None
        engine.wait_loaded()
        source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
        assert engine.wait_status("open")["status"] == "open"


def test_a_restart_with_no_network_keeps_the_users_order_and_the_venues_instruments(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "engine"
    # The venue's own terms differ from the simulated catalogue's BTC/USDT (lot 0.00001).
    spec = type(BTC)(**{**{f: getattr(BTC, f) for f in BTC.__slots__}, "lot_size": D("0.001"),
                        "min_quantity": D("0.001")})  # fmt: skip
    source = ScriptedSource(specs=[spec])
    with Mirrored(source, data_dir) as engine:
        engine.wait_loaded()
        source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
        small = engine.order(side="buy", price="99.50", quantity="0.002")  # 0.199 USDT
        assert "minimum notional of 5 USDT" in small.json()["error"]["message"]
        off_lot = engine.order(side="buy", price="99.50", quantity="0.0605")
        assert off_lot.json()["error"]["code"] == "INVALID_PARAMETER"
        placed = engine.order(side="buy", price="99.50", quantity="0.06")
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["data"]["order_id"]
    offline = ScriptedSource(specs=[spec], unreachable="no route to host")
    with Mirrored(offline, data_dir) as engine:
        order = engine.get(f"/v1/trading/orders/{order_id}")
        assert order["status"] == "open" and D(str(order["quantity"])) == D("0.06")
        markets = {m["symbol"]: m for m in engine.get("/v1/markets", exchange="BINANCE")["markets"]}
        market = markets["BTC/USDT"]
        assert market["status"] == "halted"  # until the venue answers and a snapshot comes
        assert markets["ETH/USDT"]["status"] == "halted"  # simulated before, not mirrored now
        assert D(str(market["lot_size"])) == D("0.001")
        row = engine.status()
        assert row["status"] == "halted" and row["reason"] == "no route to host"
        # Only the user's order rests: the venue's past liquidity is not state.
        assert engine.book() == {"bids": [(D("99.50"), D("0.06"))], "asks": []}
        off_tick = engine.order(side="buy", price="99.505", quantity="0.06")
        assert off_tick.json()["error"]["code"] == "INVALID_PARAMETER"


def test_a_storage_rollback_halts_the_mirror_until_a_new_watch_resyncs_it(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
    assert mirrored.order(side="buy", price="99.00", quantity="0.1").status_code == 201
    connection = mirrored.runtime.exchange._store.connection
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's SQLITE_FULL
    refused = None
    for _ in range(3000):
        answer = mirrored.order(side="buy", price="99.00", quantity="0.1")
        if answer.status_code != 201:
            refused = answer
            break
    assert refused is not None and refused.status_code == 503, "the store never refused"
    row = mirrored.status()
    assert row["status"] == "halted" and "rolled back" in row["reason"]
    connection.execute("PRAGMA max_page_count = 1073741823")
    source.push(snapshot([("100.00", "2")], [("100.01", "1")], t=5))
    assert mirrored.wait_status("open")["status"] == "open"
    book = mirrored.book()
    assert book["bids"][0] == (D("100.00"), D(2)) and book["asks"] == [(D("100.01"), D(1))]


def test_a_batch_that_trades_a_users_order_keeps_the_book_channels_sequence(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    subscribe = '{"action": "subscribe", "channels": ["book"], "instruments": ["BINANCE:BTC/USDT"]}'
    source.push(snapshot([("100.00", "1")], [("100.05", "1")]))
    assert mirrored.order(side="buy", price="100.02", quantity="0.2").status_code == 201
    with mirrored.client.websocket_connect("/v1/ws/market") as ws:
        ws.send_text(subscribe)
        sequence = receive_until(ws, "book_snapshot")["sequence"]
        # One venue update: a new bid, its best ask gone, a lower ask that meets the user.
        source.push(changes([("99.99", "1")], [("100.05", "0"), ("100.01", "0.5")], t=1))
        first, second = receive_until(ws, "book_delta"), receive_until(ws, "book_delta")
        assert (first["sequence"], second["sequence"]) == (sequence + 1, sequence + 2)
    assert mirrored.book() == {
        "bids": [(D("100.00"), D(1)), (D("99.99"), D(1))],
        "asks": [(D("100.01"), D("0.3"))],
    }
