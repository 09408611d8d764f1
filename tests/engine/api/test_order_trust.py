"""Orders mean what the trader meant (issue 8), through the HTTP API of the real app:
idempotency conflicts, the validating dry run, pre-trade risk limits, the dead-man switch,
history paging, and the account totals on positions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import Clock, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt

BTC = {"exchange": "BINANCE", "symbol": "BTC/USDT"}


def order(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {**BTC, "side": "buy", "type": "limit", "quantity": "0.01"}
    body["price"] = "50000.00"
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def call(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any = None):
    response = client.request(
        method,
        path,
        headers={**headers, "Content-Type": "application/json"},
        content=None if body is None else jsonfmt.dumps(body),
    )
    return response.status_code, jsonfmt.loads(response.content)


def data(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any = None):
    status, payload = call(client, method, path, headers, body)
    assert status in (200, 201), payload
    return payload["data"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Starlette:
    return create_app(settings(clock=clock))


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def headers(app: Starlette, client: TestClient) -> dict[str, str]:
    return auth_headers(app.state.runtime.keys)


def book_mid(client: TestClient, headers: dict[str, str]) -> Decimal:
    book = data(client, "GET", "/v1/markets/BINANCE/orderbook/BTC/USDT?depth=1", headers)
    return (book["bids"][0]["price"] + book["asks"][0]["price"]) / 2


# ---------------------------------------------------------------------- idempotency
def test_a_reused_client_order_id_with_other_parameters_is_a_409_conflict(
    client: TestClient, headers: dict[str, str]
) -> None:
    status, first = call(client, "POST", "/v1/trading/orders", headers, order(client_order_id="k1"))
    assert status == 201
    original = first["data"]["order_id"]
    status, again = call(client, "POST", "/v1/trading/orders", headers, order(client_order_id="k1"))
    assert status == 200 and again["data"]["order_id"] == original  # the exact replay
    for change in (
        {"side": "sell"},
        {"quantity": "0.02"},
        {"price": "50001.00"},
        {"type": "market", "price": None},
        {"symbol": "ETH/USDT", "price": "2000.00"},
        {"time_in_force": "ioc"},
        {"post_only": True},
    ):
        status, body = call(
            client, "POST", "/v1/trading/orders", headers, order(client_order_id="k1", **change)
        )
        assert status == 409, (change, body)
        error = body["error"]
        assert error["code"] == "INVALID_PARAMETER"
        assert error["details"]["parameter"] == "client_order_id"
        assert error["details"]["order_id"] == original
        assert original in error["message"]
    orders = data(client, "GET", "/v1/trading/orders?status=all", headers)["orders"]
    assert [o["order_id"] for o in orders] == [original]  # nothing new was created


# ---------------------------------------------------------------------- dry run
def test_validate_estimates_a_marketable_order_without_changing_anything(
    app: Starlette, client: TestClient, headers: dict[str, str]
) -> None:
    exchange = app.state.runtime.exchange
    book = data(client, "GET", "/v1/markets/BINANCE/orderbook/BTC/USDT?depth=5", headers)
    before = exchange.state_hash()
    body = order(quantity="0.5", price=str(book["asks"][4]["price"]))
    result = data(client, "POST", "/v1/trading/orders/validate", headers, body)
    assert exchange.state_hash() == before
    assert data(client, "GET", "/v1/trading/orders?status=all", headers)["orders"] == []
    assert result["accepted"] is True and result["replay"] is False
    estimate = result["estimate"]
    fills = estimate["fills"]
    assert fills and fills[0]["price"] == book["asks"][0]["price"]
    assert sum(f["quantity"] for f in fills) == estimate["filled_quantity"]
    notional = sum(f["price"] * f["quantity"] for f in fills)
    assert estimate["average_price"] == pytest.approx(notional / estimate["filled_quantity"])
    assert estimate["locked_asset"] == "USDT" and estimate["fee_asset"] == "USDT"
    assert estimate["notional"] == Decimal(body["price"]) * Decimal("0.5")
    # What the real placement then does matches the estimate.
    placed = data(client, "POST", "/v1/trading/orders", headers, body)
    assert placed["status"] == result["order"]["status"]
    assert placed["filled_quantity"] == estimate["filled_quantity"]
    assert placed["average_price"] == estimate["average_price"]
    fee = sum(f["fee"] for f in data(client, "GET", "/v1/trading/fills", headers)["fills"])
    assert fee == estimate["fee"]


def test_validate_answers_exactly_the_error_the_placement_would(
    client: TestClient, headers: dict[str, str]
) -> None:
    for body in (
        order(quantity="100", price="50000.00"),  # INSUFFICIENT_BALANCE
        order(price="50000.001"),  # tick
        order(quantity="0.000001"),  # lot
        order(symbol="DOGE/USDT"),  # instrument
        order(price="90000.00"),  # price band
    ):
        validated = call(client, "POST", "/v1/trading/orders/validate", headers, body)
        placed = call(client, "POST", "/v1/trading/orders", headers, body)
        assert validated[0] == placed[0] >= 400, body
        assert validated[1]["error"]["code"] == placed[1]["error"]["code"]
        assert validated[1]["error"]["details"] == placed[1]["error"]["details"]


def test_validate_predicts_orders_that_end_without_their_fill(
    client: TestClient, headers: dict[str, str]
) -> None:
    mid = book_mid(client, headers)
    book = data(client, "GET", "/v1/markets/BINANCE/orderbook/BTC/USDT?depth=1", headers)
    ask = book["asks"][0]
    below = (mid * Decimal("0.99")).quantize(Decimal("0.01"))
    cases = [
        (order(price=str(ask["price"]), post_only=True), "rejected", "post_only_would_take"),
        (order(quantity=str(ask["quantity"] * 2), price=str(ask["price"]), time_in_force="fok"),
         "canceled", "fok_not_fillable"),
        (order(price=str(below), time_in_force="ioc"), "canceled", "ioc_remainder"),
    ]  # fmt: skip
    for body, status, reason in cases:
        result = data(client, "POST", "/v1/trading/orders/validate", headers, body)
        assert (result["order"]["status"], result["order"]["reason"]) == (status, reason)
        assert result["estimate"]["filled_quantity"] == 0
        placed = data(client, "POST", "/v1/trading/orders", headers, body)
        assert (placed["status"], placed["reason"]) == (status, reason)


def test_validate_of_a_replay_says_so(client: TestClient, headers: dict[str, str]) -> None:
    placed = data(client, "POST", "/v1/trading/orders", headers, order(client_order_id="r1"))
    result = data(
        client, "POST", "/v1/trading/orders/validate", headers, order(client_order_id="r1")
    )
    assert result["replay"] is True and result["order"]["order_id"] == placed["order_id"]
    status, body = call(
        client,
        "POST",
        "/v1/trading/orders/validate",
        headers,
        order(client_order_id="r1", quantity="0.02"),
    )
    assert status == 409 and body["error"]["details"]["order_id"] == placed["order_id"]


# ---------------------------------------------------------------------- risk limits
def test_risk_limits_are_on_by_default_and_each_breach_names_limit_and_value(
    client: TestClient, headers: dict[str, str]
) -> None:
    limits = data(client, "GET", "/v1/account/limits", headers)
    assert limits == {
        "price_band_pct": 10,
        "max_order_notional": 1000000,
        "max_open_orders": 1000,
        "max_orders_per_second": 100,
    }
    mid = book_mid(client, headers)
    through = (mid * Decimal("1.11")).quantize(Decimal("0.01"))
    status, body = call(client, "POST", "/v1/trading/orders", headers, order(price=str(through)))
    assert status == 400 and body["error"]["code"] == "RISK_LIMIT_EXCEEDED"
    details = body["error"]["details"]
    assert details["limit"] == "price_band_pct" and details["maximum"] == 10
    assert Decimal("10.9") < details["value"] < Decimal("11.1")
    sell_low = (mid * Decimal("0.89")).quantize(Decimal("0.01"))
    status, body = call(
        client, "POST", "/v1/trading/orders", headers, order(side="sell", price=str(sell_low))
    )
    assert status == 400 and body["error"]["details"]["limit"] == "price_band_pct"
    inside = (mid * Decimal("0.91")).quantize(Decimal("0.01"))
    assert call(client, "POST", "/v1/trading/orders", headers, order(price=str(inside)))[0] == 201

    data(client, "PATCH", "/v1/account/limits", headers, {"max_order_notional": "1000"})
    status, body = call(client, "POST", "/v1/trading/orders", headers, order(quantity="0.03"))
    assert status == 400
    assert body["error"]["details"] == {
        "limit": "max_order_notional",
        "maximum": 1000,
        "value": 1500,
        "parameter": "quantity",
    }

    data(client, "PATCH", "/v1/account/limits", headers, {"max_open_orders": 2})
    assert call(client, "POST", "/v1/trading/orders", headers, order())[0] == 201
    status, body = call(client, "POST", "/v1/trading/orders", headers, order())
    assert status == 400 and body["error"]["details"]["limit"] == "max_open_orders"
    # An IOC cannot rest: the open-orders limit does not apply to it.
    assert call(client, "POST", "/v1/trading/orders", headers, order(time_in_force="ioc"))[0] == 201
    data(client, "DELETE", "/v1/trading/orders", headers)
    assert call(client, "POST", "/v1/trading/orders", headers, order())[0] == 201


def test_orders_per_second_is_a_sliding_second_of_engine_time(
    clock: Clock, client: TestClient, headers: dict[str, str]
) -> None:
    data(client, "PATCH", "/v1/account/limits", headers, {"max_orders_per_second": 3})
    ioc = order(time_in_force="ioc")
    assert [call(client, "POST", "/v1/trading/orders", headers, ioc)[0] for _ in range(3)] == [
        201
    ] * 3
    status, body = call(client, "POST", "/v1/trading/orders", headers, ioc)
    assert status == 400 and body["error"]["details"] == {
        "limit": "max_orders_per_second",
        "maximum": 3,
        "value": 4,
    }
    clock.advance(1.001)
    assert call(client, "POST", "/v1/trading/orders", headers, ioc)[0] == 201


def test_bad_limit_values_are_refused_and_change_nothing(
    client: TestClient, headers: dict[str, str]
) -> None:
    before = data(client, "GET", "/v1/account/limits", headers)
    for body in (
        {"price_band_pct": 0},
        {"price_band_pct": "0.001"},
        {"max_open_orders": 1.5},
        {"max_open_orders": -1},
        {"max_orders_per_second": True},
        {"leverage": 3},
        {},
    ):
        status, answer = call(client, "PATCH", "/v1/account/limits", headers, body)
        assert status == 400 and answer["error"]["code"] == "INVALID_PARAMETER", body
    status, answer = call(client, "PUT", "/v1/account/limits", headers, {"max_open_orders": 5})
    assert status == 400 and answer["error"]["details"]["parameter"] == "price_band_pct"
    assert data(client, "GET", "/v1/account/limits", headers) == before


def test_limits_and_a_pending_dead_man_switch_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    first = create_app(settings(data_dir=tmp_path, clock=clock))
    with TestClient(first) as client:
        headers = auth_headers(first.state.runtime.keys)
        data(client, "PATCH", "/v1/account/limits", headers, {"price_band_pct": "2.5"})
        placed = data(client, "POST", "/v1/trading/orders", headers, order())
        armed = data(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": 30})
    clock.advance(60)  # the engine is down past the trigger time
    second = create_app(settings(data_dir=tmp_path, clock=clock))
    with TestClient(second) as client:
        assert data(client, "GET", "/v1/account/limits", headers)["price_band_pct"] == Decimal(
            "2.5"
        )
        # Fired as the engine started: no timer tick needed.
        found = data(client, "GET", f"/v1/trading/orders/{placed['order_id']}", headers)
        assert (found["status"], found["reason"]) == ("canceled", "cancel_after")
        status = data(client, "GET", "/v1/trading/cancel-after", headers)
        assert status["trigger_time"] is None and armed["trigger_time"] is not None


# ---------------------------------------------------------------------- dead-man switch
def wait_for_status(
    client: TestClient, headers: dict[str, str], order_id: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 3
    while True:
        found = data(client, "GET", f"/v1/trading/orders/{order_id}", headers)
        if found["status"] == status or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_cancel_after_cancels_every_open_order_unless_refreshed(
    clock: Clock, client: TestClient, headers: dict[str, str]
) -> None:
    placed = [data(client, "POST", "/v1/trading/orders", headers, order()) for _ in range(2)]
    armed = data(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": 10})
    assert armed == {
        "current_time": "2026-11-24T15:00:00.000000Z",
        "trigger_time": "2026-11-24T15:00:10.000000Z",
        "timeout": 10,
    }
    clock.advance(8)
    data(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": 10})  # refreshed
    clock.advance(8)  # 16 s after arming, 8 s after the refresh: nothing fires
    time.sleep(0.2)  # several timer ticks
    assert data(client, "GET", "/v1/trading/orders", headers)["total"] == 2
    clock.advance(3)
    for order_placed in placed:
        found = wait_for_status(client, headers, order_placed["order_id"], "canceled")
        assert (found["status"], found["reason"]) == ("canceled", "cancel_after")
    assert data(client, "GET", "/v1/trading/cancel-after", headers)["trigger_time"] is None
    # Disarmed by 0: nothing is canceled however long the clock runs.
    kept = data(client, "POST", "/v1/trading/orders", headers, order())
    data(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": 5})
    off = data(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": 0})
    assert off["trigger_time"] is None and off["timeout"] == 0
    clock.advance(60)
    time.sleep(0.2)
    assert data(client, "GET", f"/v1/trading/orders/{kept['order_id']}", headers)["status"] == (
        "open"
    )


@pytest.mark.parametrize("timeout", [-1, 86401, 1.5, "soon", None, True])
def test_cancel_after_rejects_bad_timeouts(
    client: TestClient, headers: dict[str, str], timeout: object
) -> None:
    status, body = call(client, "POST", "/v1/trading/cancel-after", headers, {"timeout": timeout})
    assert status == 400 and body["error"]["details"]["parameter"] == "timeout"


# ---------------------------------------------------------------------- paging
def test_order_and_fill_history_pages_with_total_and_cursor(
    clock: Clock, client: TestClient, headers: dict[str, str]
) -> None:
    data(client, "PATCH", "/v1/account/limits", headers, {"max_orders_per_second": None})
    ids = []
    for _ in range(7):
        ids.append(data(client, "POST", "/v1/trading/orders", headers, order())["order_id"])
        clock.advance(1)
    page = data(client, "GET", "/v1/trading/orders?limit=3", headers)
    assert [o["order_id"] for o in page["orders"]] == ids[::-1][:3]
    assert page["total"] == 7 and page["next_before"] == ids[4]
    page = data(client, "GET", f"/v1/trading/orders?limit=3&before={page['next_before']}", headers)
    assert [o["order_id"] for o in page["orders"]] == ids[::-1][3:6]
    page = data(client, "GET", f"/v1/trading/orders?limit=3&before={page['next_before']}", headers)
    assert [o["order_id"] for o in page["orders"]] == [ids[0]]
    assert page["total"] == 1 and page["next_before"] is None
    # Times: since is inclusive, before exclusive (orders were placed one second apart).
    page = data(
        client,
        "GET",
        "/v1/trading/orders?since=2026-11-24T15:00:02Z&before=2026-11-24T15:00:05.000000Z",
        headers,
    )
    assert [o["order_id"] for o in page["orders"]] == [ids[4], ids[3], ids[2]]
    page = data(client, "GET", f"/v1/trading/orders?since={ids[5]}", headers)
    assert [o["order_id"] for o in page["orders"]] == [ids[6]]
    for bad in ("yesterday", "2026-13-01", "1" * 30):
        status, body = call(client, "GET", f"/v1/trading/orders?since={bad}", headers)
        assert status == 400 and body["error"]["details"]["parameter"] == "since"
    # Fills page the same way, by trade id.
    for _ in range(3):
        data(client, "POST", "/v1/trading/orders", headers, order(type="market", price=None))
    fills = data(client, "GET", "/v1/trading/fills?limit=2", headers)
    assert len(fills["fills"]) == 2 and fills["total"] >= 3
    rest = data(client, "GET", f"/v1/trading/fills?before={fills['next_before']}", headers)
    assert rest["total"] == fills["total"] - 2
    assert {f["trade_id"] for f in rest["fills"]}.isdisjoint(f["trade_id"] for f in fills["fills"])


# ---------------------------------------------------------------------- positions
def test_positions_end_with_account_totals_and_realized_pnl_includes_fees(
    client: TestClient, headers: dict[str, str]
) -> None:
    bought = data(client, "POST", "/v1/trading/orders", headers, order(type="market", price=None))
    sold = data(
        client,
        "POST",
        "/v1/trading/orders",
        headers,
        order(side="sell", type="market", price=None),
    )
    fills = data(client, "GET", "/v1/trading/fills", headers)["fills"]
    fees = sum(f["fee"] for f in fills)
    assert fees > 0
    report = data(client, "GET", "/v1/account/positions", headers)
    (position,) = report["positions"]
    assert position["quantity"] == 0
    trading = (sold["average_price"] - bought["average_price"]) * Decimal("0.01")
    assert position["realized_pnl"] == trading - fees
    (total,) = report["totals"]
    usdt = next(b for b in data(client, "GET", "/v1/account/balance", headers)["balances"]
                if b["asset"] == "USDT")  # fmt: skip
    assert total == {
        "asset": "USDT",
        "equity": usdt["total"],  # flat: equity is the cash
        "realized_pnl": position["realized_pnl"],
        "unrealized_pnl": 0,
    }
    data(client, "POST", "/v1/trading/orders", headers, order(type="market", price=None))
    report = data(client, "GET", "/v1/account/positions", headers)
    (position,) = report["positions"]
    (total,) = report["totals"]
    usdt = next(b for b in data(client, "GET", "/v1/account/balance", headers)["balances"]
                if b["asset"] == "USDT")  # fmt: skip
    assert total["equity"] == usdt["total"] + position["quantity"] * position["market_price"]
    assert total["unrealized_pnl"] == position["unrealized_pnl"]


def test_validate_a_market_order_estimates_its_fills_and_locks_its_bound(
    client: TestClient, headers: dict[str, str]
) -> None:
    book = data(client, "GET", "/v1/markets/BINANCE/orderbook/BTC/USDT?depth=3", headers)
    quantity = book["asks"][0]["quantity"] + book["asks"][1]["quantity"]
    body = order(type="market", price=None, quantity=str(quantity))
    result = data(client, "POST", "/v1/trading/orders/validate", headers, body)
    estimate = result["estimate"]
    assert [f["price"] for f in estimate["fills"]] == [a["price"] for a in book["asks"][:2]]
    assert result["order"]["status"] == "filled" and estimate["filled_quantity"] == quantity
    notional = sum(f["price"] * f["quantity"] for f in estimate["fills"])
    assert estimate["notional"] == notional  # a market order's notional is its fills'
    assert estimate["locked"] > notional  # locked up to the protection bound, plus the fee
    placed = data(client, "POST", "/v1/trading/orders", headers, body)
    assert placed["average_price"] == estimate["average_price"]
