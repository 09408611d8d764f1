"""GET /v1/markets/{exchange}/candles/{symbol}: candles of the engine's stored trades, checked
against the fills of the trades that made them, through the HTTP API of the real app on a real
data directory (restarts included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import Clock, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.timefmt import iso, parse_iso

BTC = "/v1/markets/BINANCE/candles/BTC/USDT"
WIDTHS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}


class Engine:
    """The real app on a data directory, its clock, and a key for alice."""

    def __init__(self, data_dir: Path, clock: Clock) -> None:
        self.clock = clock
        self.app = create_app(settings(data_dir=data_dir, clock=clock))
        self.client = TestClient(self.app)

    def __enter__(self) -> Engine:
        self.client.__enter__()
        self.headers = auth_headers(self.app.state.runtime.keys)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=self.headers)
        body = jsonfmt.loads(response.content)
        assert response.status_code == 200, body
        return body["data"]

    def market(self, side: str, quantity: str, symbol: str = "BTC/USDT") -> None:
        order = {"exchange": "BINANCE", "symbol": symbol, "side": side, "type": "market",
                 "quantity": quantity}  # fmt: skip
        response = self.client.post(
            "/v1/trading/orders",
            content=jsonfmt.dumps(order),
            headers={**self.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text

    def fills(self) -> list[dict[str, Any]]:
        return list(reversed(self.get("/v1/trading/fills?limit=1000")["fills"]))

    def candles(self, interval: str, limit: int = 1000, path: str = BTC) -> list[dict[str, Any]]:
        data = self.get(f"{path}?interval={interval}&limit={limit}")
        assert (data["exchange"], data["symbol"], data["interval"]) == (
            "BINANCE",
            "BTC/USDT",
            interval,
        )
        return data["candles"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(tmp_path / "engine", Clock()) as started:
        yield started


def expected(fills: list[dict[str, Any]], interval: str) -> list[dict[str, Any]]:
    """Candles worked out from the trades' fills (one fill per trade: alice takes every one)."""
    width = WIDTHS[interval]
    candles: dict[datetime, dict[str, Any]] = {}
    for fill in sorted(fills, key=lambda f: int(f["trade_id"])):
        moment = parse_iso(fill["timestamp"])
        seconds = int(moment.timestamp()) // width * width
        start = datetime.fromtimestamp(seconds, UTC)
        price, quantity = fill["price"], fill["quantity"]
        candle = candles.get(start)
        if candle is None:
            candles[start] = {"time": iso(start), "open": price, "high": price, "low": price,
                              "close": price, "volume": quantity,
                              "quote_volume": price * quantity, "trades": 1}  # fmt: skip
            continue
        candle["high"] = max(candle["high"], price)
        candle["low"] = min(candle["low"], price)
        candle["close"] = price
        candle["volume"] += quantity
        candle["quote_volume"] += price * quantity
        candle["trades"] += 1
    return [candles[start] for start in sorted(candles)]


def trade_a_while(engine: Engine, minutes: int, start_second: int = 0) -> None:
    """Market orders each way, a few per minute, walking the seeded book up and down."""
    engine.clock.advance(start_second)
    for minute in range(minutes):
        for side, quantity in (("buy", "0.3"), ("sell", "0.2"), ("sell", "0.25"), ("buy", "0.1")):
            engine.market(side, quantity)
            engine.clock.advance(13)
        engine.clock.advance(60 - 4 * 13 + minute % 3)


def test_candles_are_exactly_the_trades_ohlcv_per_interval(engine: Engine) -> None:
    trade_a_while(engine, 12)
    fills = engine.fills()
    assert len(fills) > 48  # market orders walked several levels
    for interval in WIDTHS:
        got = engine.candles(interval)
        assert got == expected(fills, interval), interval
    assert len(engine.candles("1m")) == 12 and len(engine.candles("5m")) == 3
    # limit: the newest ones, still oldest first
    assert engine.candles("1m", limit=4) == expected(fills, "1m")[-4:]
    # numbers are exact decimals to the instrument's tick and lot, as the other routes send them
    raw = engine.client.get(BTC + "?interval=1h", headers=engine.headers).content
    first = expected(fills, "1h")[0]
    assert f'"open": {first["open"]:.2f}'.encode() in raw
    assert f'"volume": {first["volume"]:.5f}'.encode() in raw


def test_interval_boundaries_are_utc_period_starts(engine: Engine) -> None:
    # 23:59:59.999999 and midnight fall in different candles of every interval.
    engine.clock.now = datetime(2026, 11, 24, 23, 59, 59, 999_999, tzinfo=UTC)
    engine.market("buy", "0.1")
    engine.clock.advance(0.000001)
    engine.market("sell", "0.1")
    engine.clock.advance(299.999999)  # 00:04:59.999999: same 5m candle as midnight
    engine.market("buy", "0.05")
    engine.clock.advance(0.000001)  # 00:05:00: a new 5m candle, same hour
    engine.market("buy", "0.05")
    times = {interval: [c["time"] for c in engine.candles(interval)] for interval in WIDTHS}
    assert times == {
        "1m": ["2026-11-24T23:59:00.000000Z", "2026-11-25T00:00:00.000000Z",
               "2026-11-25T00:04:00.000000Z", "2026-11-25T00:05:00.000000Z"],
        "5m": ["2026-11-24T23:55:00.000000Z", "2026-11-25T00:00:00.000000Z",
               "2026-11-25T00:05:00.000000Z"],
        "1h": ["2026-11-24T23:00:00.000000Z", "2026-11-25T00:00:00.000000Z"],
        "1d": ["2026-11-24T00:00:00.000000Z", "2026-11-25T00:00:00.000000Z"],
    }  # fmt: skip
    fills = engine.fills()
    for interval in WIDTHS:
        assert engine.candles(interval) == expected(fills, interval)


def test_a_restart_keeps_the_candles_and_goes_on_with_the_one_in_progress(tmp_path: Path) -> None:
    clock = Clock()
    with Engine(tmp_path / "engine", clock) as first:
        trade_a_while(first, 3, start_second=5)
        before = {interval: first.candles(interval) for interval in WIDTHS}
        first.market("buy", "0.1")  # in the minute still in progress
    with Engine(tmp_path / "engine", clock) as second:
        second.market("sell", "0.3")  # same minute: the stored candle goes on
        fills = second.fills()
        for interval in WIDTHS:
            after = second.candles(interval)
            assert after == expected(fills, interval)
            assert after[: len(before[interval]) - 1] == before[interval][:-1]
        assert second.candles("1m")[-1]["trades"] >= 2  # one candle across the restart


def test_old_candles_are_pruned_after_their_window_others_kept(engine: Engine) -> None:
    engine.market("buy", "0.1")  # 15:00 on day one
    engine.clock.advance(60)
    engine.market("sell", "0.1")
    day_one = {interval: engine.candles(interval) for interval in WIDTHS}
    assert len(day_one["1m"]) == 2
    engine.clock.advance(2 * 86400 + 60)  # past the 2 days 1m candles are kept
    engine.market("buy", "0.1")
    day_three = [f for f in engine.fills() if f["timestamp"].startswith("2026-11-26")]
    assert engine.candles("1m") == expected(day_three, "1m")  # the old two are gone
    for interval in ("5m", "1h", "1d"):  # kept 14 days, 90 days, years
        assert engine.candles(interval)[: len(day_one[interval])] == day_one[interval]
    engine.clock.advance(15 * 86400)
    engine.market("sell", "0.1")
    assert len(engine.candles("5m")) == 1 and len(engine.candles("1h")) == 3


def test_symbols_spelled_as_the_other_market_routes_accept(engine: Engine) -> None:
    engine.market("buy", "0.1")
    want = engine.candles("1m")
    assert len(want) == 1
    for path in ("/v1/markets/binance/candles/btc-usdt", "/v1/markets/Binance/candles/BTC%2FUSDT"):
        assert engine.candles("1m", path=path) == want
    assert engine.get("/v1/markets/BINANCE/candles/ETH-USDT")["candles"] == []  # no trades yet
    defaults = engine.get(BTC)
    assert defaults["interval"] == "1m" and defaults["candles"] == want


@pytest.mark.parametrize(
    ("query", "parameter", "says"),
    [
        ("/BTC/USDT?interval=2m", "interval", "interval must be one of: 1m, 5m, 1h, 1d"),
        ("/BTC/USDT?interval=", "interval", "interval must be one of"),
        ("/BTC/USDT?limit=0", "limit", "limit must be a whole number from 1 to 5000"),
        ("/BTC/USDT?limit=5001", "limit", "from 1 to 5000"),
        ("/BTC/USDT?limit=ten", "limit", "from 1 to 5000"),
        ("/BTC/USDT?intervals=1m", "intervals", ""),
        ("/DOGE/USDT", "symbol", "Unknown symbol 'DOGE/USDT' on BINANCE; known: BTC/USDT"),
    ],
)
def test_bad_parameters_are_invalid_parameter_saying_what_is_allowed(
    engine: Engine, query: str, parameter: str, says: str
) -> None:
    response = engine.client.get("/v1/markets/BINANCE/candles" + query, headers=engine.headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_PARAMETER"
    assert error["details"]["parameter"] == parameter
    assert says in error["message"]


def test_unknown_exchange_and_missing_key(engine: Engine) -> None:
    response = engine.client.get("/v1/markets/MTGOX/candles/BTC-USD", headers=engine.headers)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["parameter"] == "exchange"
    assert engine.client.get(BTC).status_code == 401


def test_the_route_is_in_the_openapi_document(engine: Engine) -> None:
    document = engine.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/markets/{exchange}/candles/{symbol}"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["interval"]["enum"] == ["1m", "5m", "1h", "1d"]
    assert (parameters["limit"]["maximum"], parameters["limit"]["default"]) == (5000, 100)


def test_quote_volume_is_exact(engine: Engine) -> None:
    engine.market("buy", "0.3")
    fills = engine.fills()
    (candle,) = engine.candles("1d")
    assert candle["quote_volume"] == sum((f["price"] * f["quantity"] for f in fills), Decimal(0))
    assert isinstance(candle["quote_volume"], Decimal)
    assert engine.clock.now - parse_iso(candle["time"]) == timedelta(hours=15)
