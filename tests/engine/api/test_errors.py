"""Every error code and status, always in the reference's shape: never 422's, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import Clock, auth_headers, settings
from velocimex_cli.engine.api.app import create_app

GOOD = (
    '{"exchange": "NASDAQ", "symbol": "AAPL", "side": "buy", "type": "limit",'
    ' "quantity": 1, "price": 150.50}'
)


def error_of(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return body["error"]


def post(client: TestClient, headers: dict[str, str], body: str | bytes, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/trading/orders",
        content=body,
        headers={**headers, "Content-Type": "application/json", **extra},
    )


def test_malformed_json(client: TestClient, headers: dict[str, str]) -> None:
    error = error_of(post(client, headers, b'{"exchange": '), 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == "body"
    assert "not valid JSON" in error["message"]


def test_body_must_be_an_object(client: TestClient, headers: dict[str, str]) -> None:
    error = error_of(post(client, headers, b"[1, 2]"), 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == "body"


def test_a_key_given_twice_is_refused_not_guessed(
    client: TestClient, headers: dict[str, str]
) -> None:
    """{"side": "buy", ..., "side": "sell"}: no order is placed on a guess of which was meant."""
    body = GOOD[:-1] + ', "side": "sell"}'
    error = error_of(post(client, headers, body), 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == "side"
    assert "more than once" in error["message"]
    orders = client.get("/v1/trading/orders", params={"status": "all"}, headers=headers).json()
    assert orders["data"]["orders"] == []


def test_wrong_content_type_is_415(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/trading/orders", content=GOOD, headers={**headers, "Content-Type": "text/plain"}
    )
    error = error_of(response, 415, "INVALID_PARAMETER")
    assert error["details"] == {"parameter": "content-type", "value": "text/plain"}


def test_body_over_the_limit_is_413(client: TestClient, headers: dict[str, str]) -> None:
    huge = '{"client_order_id": "' + "x" * 100_000 + '"}'
    error = error_of(post(client, headers, huge), 413, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == "body"


def test_unknown_field_is_named(client: TestClient, headers: dict[str, str]) -> None:
    body = GOOD[:-1] + ', "leverage": 10}'
    error = error_of(post(client, headers, body), 400, "INVALID_PARAMETER")
    assert error["details"] == {"parameter": "leverage", "value": "10"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("side", "5"), ("post_only", '"yes"'), ("exchange", "[]"), ("quantity", '"lots"')],
)
def test_wrong_types_name_the_parameter(
    client: TestClient, headers: dict[str, str], field: str, value: str
) -> None:
    parsed = json.loads(GOOD)
    parsed[field] = json.loads(value)
    response = post(client, headers, json.dumps(parsed))
    error = error_of(response, 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == field


def test_negative_price_matches_the_reference_example(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = post(client, headers, GOOD.replace("150.50", "-1.00"))
    error = error_of(response, 400, "INVALID_PARAMETER")
    assert error["details"] == {"parameter": "price", "value": "-1.00"}


def test_bad_query_parameter(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/markets/NASDAQ/orderbook/AAPL?depth=0", headers=headers)
    assert error_of(response, 400, "INVALID_PARAMETER")["details"]["parameter"] == "depth"
    response = client.get("/v1/trading/orders?status=bogus", headers=headers)
    assert error_of(response, 400, "INVALID_PARAMETER")["details"]["parameter"] == "status"
    response = client.get("/v1/markets/NOPE/ticker/AAPL", headers=headers)
    assert error_of(response, 400, "INVALID_PARAMETER")["details"]["parameter"] == "exchange"


def test_unknown_route_and_method(client: TestClient, headers: dict[str, str]) -> None:
    error = error_of(client.get("/v1/nowhere", headers=headers), 404, "NOT_FOUND")
    assert error["details"] == {"path": "/v1/nowhere"}
    error_of(client.get("/nowhere"), 404, "NOT_FOUND")
    error = error_of(client.put("/v1/markets/status", headers=headers), 405, "INVALID_PARAMETER")
    assert error["details"] == {"parameter": "method", "value": "PUT"}


def test_unknown_order_is_404(client: TestClient, headers: dict[str, str]) -> None:
    error = error_of(client.get("/v1/trading/orders/999999", headers=headers), 404, "NOT_FOUND")
    assert error["details"]["order_id"] == "999999"
    error_of(client.delete("/v1/trading/orders/999999", headers=headers), 404, "NOT_FOUND")


def test_insufficient_balance(client: TestClient, headers: dict[str, str]) -> None:
    response = post(client, headers, GOOD.replace('"quantity": 1', '"quantity": 100000'))
    error = error_of(response, 400, "INSUFFICIENT_BALANCE")
    assert set(error["details"]) >= {"asset", "required", "available"}


def test_market_closed() -> None:
    saturday = Clock(datetime(2026, 11, 21, 15, 0, tzinfo=UTC))
    app = create_app(settings(always_open=False, clock=saturday))
    with TestClient(app) as client:
        headers = auth_headers(app.state.runtime.keys)
        error = error_of(post(client, headers, GOOD), 409, "MARKET_CLOSED")
        assert error["details"]["exchange"] == "NASDAQ" and "next_open" in error["details"]
        status = client.get("/v1/markets/status", headers=headers).json()["data"]["markets"]
        assert {m["exchange"]: m["status"] for m in status}["NASDAQ"] == "closed"


def test_internal_error_has_no_traceback(app: Starlette, headers: dict[str, str]) -> None:
    runtime = app.state.runtime

    def broken(account: str) -> list[dict]:
        raise RuntimeError("disk on fire at /secret/path")

    runtime.exchange.balances = broken  # fault injection into the real engine object
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/account/balance", headers=headers)
    error = error_of(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text
    assert "x-ratelimit-limit" in response.headers
    assert error["details"] == {}


@pytest.mark.parametrize(
    ("field", "raw"),
    [("price", "1e400"), ("price", "99999999999999999999999999"), ("quantity", "1e9999")],
)
def test_numbers_out_of_range_name_the_parameter(
    client: TestClient, headers: dict[str, str], field: str, raw: str
) -> None:
    body = GOOD.replace('"price": 150.50', f'"price": {raw}' if field == "price" else '"price": 1')
    if field == "quantity":
        body = body.replace('"quantity": 1', f'"quantity": {raw}')
    error = error_of(post(client, headers, body), 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == field


@pytest.mark.parametrize(
    ("raw", "parameter"),
    [("NaN", "body"), ("Infinity", "body"), ("true", "price"), ('"abc"', "price")],
)
def test_non_numbers_are_refused(
    client: TestClient, headers: dict[str, str], raw: str, parameter: str
) -> None:
    """NaN and Infinity are not JSON at all; other non-numbers name the field."""
    response = post(client, headers, GOOD.replace("150.50", raw))
    assert error_of(response, 400, "INVALID_PARAMETER")["details"]["parameter"] == parameter


def test_deeply_nested_json(client: TestClient, headers: dict[str, str]) -> None:
    body = '{"a":' * 5000 + "1" + "}" * 5000
    error = error_of(post(client, headers, body), 400, "INVALID_PARAMETER")
    assert error["details"]["parameter"] == "body"
