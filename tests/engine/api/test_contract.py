"""Every REST route's contract, against the app in-process and under uvicorn on loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.engine.api.conftest import Api
from velocimex_cli.wire import jsonfmt


def data(response) -> object:  # type: ignore[no-untyped-def]
    body = jsonfmt.loads(response.content)
    assert body["status"] == "ok", body
    return body["data"]


def test_health_and_openapi_are_public(api: Api) -> None:
    health = api.client.get("/v1/health")
    assert health.status_code == 200
    assert data(health)["service"] == "vmx-engine"
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    schemes = spec.json()["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-API-Key", "X-API-Secret"}
    for path in (
        "/v1/markets/status",
        "/v1/trading/orders",
        "/v1/trading/orders/{order_id}",
        "/v1/account/balance",
        "/v1/strategies/{strategy_id}/deploy",
    ):
        assert path in paths


def test_market_status_lists_every_venue(api: Api) -> None:
    response = api.client.get("/v1/markets/status", headers=api.headers())
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "10000"
    assert int(response.headers["X-RateLimit-Remaining"]) < 10000
    markets = data(response)["markets"]
    assert {m["exchange"] for m in markets} >= {"NASDAQ", "BINANCE"}
    for market in markets:
        assert set(market) == {"exchange", "status", "last_update"}
        assert market["status"] in ("open", "closed")
        assert market["last_update"].endswith("Z") and "." in market["last_update"]


def test_markets_catalogue_and_filter(api: Api) -> None:
    headers = api.headers()
    markets = data(api.client.get("/v1/markets", headers=headers))["markets"]
    btc = next(m for m in markets if m["symbol"] == "BTC/USDT")
    assert set(btc) >= {"exchange", "symbol", "base", "quote", "tick_size", "lot_size"}
    assert isinstance(btc["tick_size"], Decimal)
    only = data(api.client.get("/v1/markets?exchange=binance", headers=headers))["markets"]
    assert only and {m["exchange"] for m in only} == {"BINANCE"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/markets/BINANCE/orderbook/BTC/USDT",
        "/v1/markets/BINANCE/orderbook/BTC%2FUSDT",
        "/v1/markets/binance/orderbook/btc-usdt",
    ],
)
def test_order_book_accepts_every_slash_spelling(api: Api, path: str) -> None:
    response = api.client.get(path + "?depth=5", headers=api.headers())
    assert response.status_code == 200, response.text
    book = data(response)
    assert (book["exchange"], book["symbol"]) == ("BINANCE", "BTC/USDT")
    assert isinstance(book["sequence"], int)
    assert 0 < len(book["bids"]) <= 5 and 0 < len(book["asks"]) <= 5
    assert book["bids"][0]["price"] > book["bids"][-1]["price"]
    assert book["asks"][0]["price"] < book["asks"][-1]["price"]
    assert book["bids"][0]["price"] < book["asks"][0]["price"]


@pytest.mark.parametrize("symbol", ["BTC/USDT", "BTC%2FUSDT", "BTC-USDT"])
def test_ticker_is_reference_market_data(api: Api, symbol: str) -> None:
    response = api.client.get(f"/v1/markets/BINANCE/ticker/{symbol}", headers=api.headers())
    assert response.status_code == 200, response.text
    ticker = data(response)
    assert set(ticker) == {"timestamp", "exchange", "symbol", "price", "volume", "bid", "ask"}
    assert ticker["symbol"] == "BTC/USDT"
    assert ticker["bid"] < ticker["ask"]


ORDER = {
    "exchange": "NASDAQ",
    "symbol": "AAPL",
    "side": "buy",
    "type": "limit",
    "quantity": 10,
    "price": Decimal("150.50"),
}


def post_order(api: Api, headers: dict[str, str], **changes: object):  # type: ignore[no-untyped-def]
    body = {**ORDER, **changes}
    return api.client.post(
        "/v1/trading/orders",
        content=jsonfmt.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def test_order_lifecycle(api: Api) -> None:
    headers = api.headers()
    placed = post_order(api, headers, client_order_id="my-1")
    assert placed.status_code == 201, placed.text
    assert b'"price": 150.50' in placed.content  # exact to the tick, a JSON number
    order = data(placed)
    assert order["status"] == "open" and order["client_order_id"] == "my-1"
    for key in ("order_id", "timestamp", "filled_quantity", "average_price", "time_in_force"):
        assert key in order

    again = post_order(api, headers, client_order_id="my-1")
    assert again.status_code == 200
    assert data(again)["order_id"] == order["order_id"]

    got = api.client.get(f"/v1/trading/orders/{order['order_id']}", headers=headers)
    assert data(got)["order_id"] == order["order_id"]
    by_client = api.client.get("/v1/trading/orders/client_order_id:my-1", headers=headers)
    assert data(by_client)["order_id"] == order["order_id"]

    listed = data(api.client.get("/v1/trading/orders", headers=headers))["orders"]
    assert [o["order_id"] for o in listed] == [order["order_id"]]

    canceled = api.client.delete(f"/v1/trading/orders/{order['order_id']}", headers=headers)
    assert canceled.status_code == 200
    assert data(canceled)["status"] == "canceled"

    twice = api.client.delete(f"/v1/trading/orders/{order['order_id']}", headers=headers)
    assert twice.status_code == 409
    error = twice.json()["error"]
    assert error["code"] == "INVALID_PARAMETER" and error["details"]["status"] == "canceled"

    closed = api.client.get("/v1/trading/orders?status=canceled", headers=headers)
    assert [o["order_id"] for o in data(closed)["orders"]] == [order["order_id"]]


def test_cancel_all_with_filters(api: Api) -> None:
    headers = api.headers()
    post_order(api, headers)
    post_order(api, headers, symbol="MSFT", price=Decimal("300.00"))
    response = api.client.delete("/v1/trading/orders?exchange=NASDAQ&symbol=AAPL", headers=headers)
    assert [o["symbol"] for o in data(response)["orders"]] == ["AAPL"]
    rest = api.client.delete("/v1/trading/orders", headers=headers)
    assert [o["symbol"] for o in data(rest)["orders"]] == ["MSFT"]
    assert data(api.client.get("/v1/trading/orders", headers=headers))["orders"] == []


def test_market_order_fills_and_shows_in_fills_balance_positions(api: Api) -> None:
    headers = api.headers()
    placed = post_order(api, headers, type="market", price=None, quantity=3)
    order = data(placed)
    assert placed.status_code == 201
    assert order["status"] == "filled" and order["filled_quantity"] == 3
    fills = data(api.client.get("/v1/trading/fills", headers=headers))["fills"]
    assert fills and fills[0]["order_id"] == order["order_id"]
    assert fills[0]["liquidity"] == "taker"
    by_order = api.client.get(f"/v1/trading/fills?order_id={order['order_id']}", headers=headers)
    assert len(data(by_order)["fills"]) == len(fills)

    balances = {
        b["asset"]: b
        for b in data(api.client.get("/v1/account/balance", headers=headers))["balances"]
    }
    assert balances["USD"]["total"] < Decimal(100000)
    assert set(balances["USD"]) == {"asset", "total", "available", "locked"}
    positions = data(api.client.get("/v1/account/positions", headers=headers))["positions"]
    aapl = next(p for p in positions if p["symbol"] == "AAPL")
    assert aapl["quantity"] == 3
    assert set(aapl) >= {"average_price", "market_price", "realized_pnl", "unrealized_pnl"}


def test_accounts_are_separate(api: Api) -> None:
    alice, bob = api.headers("alice"), api.headers("bob")
    post_order(api, alice)
    assert data(api.client.get("/v1/trading/orders", headers=bob))["orders"] == []


def test_strategies_contract(api: Api) -> None:
    headers = api.headers()
    listed = api.client.get("/v1/strategies", headers=headers)
    listed_ids = {s["strategy_id"] for s in data(listed)["strategies"]}
    assert listed_ids == {"twap", "market-maker", "arbitrage", "sma-cross"}
    deploy = api.client.post(
        "/v1/strategies/grid/deploy",
        json={"exchange": "NASDAQ", "symbol": "AAPL", "params": {}},
        headers=headers,
    )
    assert deploy.status_code == 404
    assert deploy.json()["error"]["code"] == "NOT_FOUND"
    assert deploy.json()["error"]["details"] == {"strategy_id": "grid"}


def test_markets_list_the_fee_rates_the_fills_are_charged(api: Api) -> None:
    """(extension) Each instrument's `maker_fee`/`taker_fee`: fractions of the notional, and
    the taker rate is what a marketable order's fills then pay (to the ledger's unit)."""
    headers = api.headers()
    markets = data(api.client.get("/v1/markets", headers=headers))["markets"]
    for market in markets:
        assert isinstance(market["taker_fee"], Decimal) and isinstance(market["maker_fee"], Decimal)
        assert 0 <= market["maker_fee"] < 1 and 0 < market["taker_fee"] < 1
    btc = next(m for m in markets if (m["exchange"], m["symbol"]) == ("BINANCE", "BTC/USDT"))
    book = data(api.client.get("/v1/markets/BINANCE/orderbook/BTC/USDT?depth=3", headers=headers))
    body = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
            "quantity": "0.01", "price": str(book["asks"][2]["price"])}  # fmt: skip
    json_headers = {**headers, "Content-Type": "application/json"}
    placed = api.client.post(
        "/v1/trading/orders", headers=json_headers, content=jsonfmt.dumps(body)
    )
    assert placed.status_code == 201, placed.text
    fills = data(api.client.get("/v1/trading/fills", headers=headers))["fills"]
    taken = [f for f in fills if f["liquidity"] == "taker"]
    assert taken
    for fill in taken:
        charged = fill["price"] * fill["quantity"] * btc["taker_fee"]
        assert charged - Decimal("0.00000001") <= fill["fee"] <= charged
