"""No input gets a 500: every id, path and query value is bounded and answers 400/404 with the
reference's error shape; numbers and client order ids are read strictly."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import ORDER
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.numbers import parse_decimal, parse_int

BTC = {
    "exchange": "BINANCE",
    "symbol": "BTC/USDT",
    "side": "buy",
    "type": "limit",
    "quantity": "0.001",
    "price": "1000.00",
}


def error_of(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = jsonfmt.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize(
    "order_id",
    ["1" * 4301, "9" * 20, "²", "١٢", "１２", "1_0", "client_order_id:" + "a" * 65, "x" * 81],
)
def test_an_impossible_order_id_is_a_400_not_a_500(
    client: TestClient, headers: dict[str, str], order_id: str
) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(
            method, "/v1/trading/orders/" + quote(order_id, safe=""), headers=headers
        )
        error = error_of(response, 400)
        assert error["code"] == "INVALID_PARAMETER"
        assert error["details"]["parameter"] == "order_id"
        assert len(error["details"]["value"]) <= 103  # a huge id is not echoed back whole
        assert "client_order_id:" in error["message"]


def test_a_well_formed_unknown_order_id_is_a_404(
    client: TestClient, headers: dict[str, str]
) -> None:
    for order_id in ("9" * 19, "client_order_id:nope"):
        error = error_of(client.get(f"/v1/trading/orders/{order_id}", headers=headers), 404)
        assert error["code"] == "NOT_FOUND"


@pytest.mark.parametrize("client_order_id", ["abc\n", "abc\r\n", "a b", "é", "a" * 65, ""])
def test_client_order_id_outside_the_rule_is_rejected(
    client: TestClient, headers: dict[str, str], client_order_id: str
) -> None:
    response = client.post(
        "/v1/trading/orders", json={**ORDER, "client_order_id": client_order_id}, headers=headers
    )
    error = error_of(response, 400)
    assert error["details"]["parameter"] == "client_order_id"
    orders = jsonfmt.loads(client.get("/v1/trading/orders", headers=headers).content)
    assert orders["data"]["orders"] == []


@pytest.mark.parametrize("field", ["quantity", "price"])
@pytest.mark.parametrize("text", ["1_000", "١٠٠٠", "１０００", "1e", "NaN", "Infinity", " "])
def test_numbers_with_separators_or_non_ascii_digits_are_rejected(
    client: TestClient, headers: dict[str, str], field: str, text: str
) -> None:
    response = client.post("/v1/trading/orders", json={**BTC, field: text}, headers=headers)
    error = error_of(response, 400)
    assert error["details"] == {"parameter": field, "value": text}
    assert "must be a number" in error["message"]


def test_the_shared_number_readers_refuse_what_python_accepts() -> None:
    for text in ("1_000", "١٢", "１２", "1\u00a0000", "0x10", "1" * 101):
        assert parse_decimal(text) is None, text
    assert parse_decimal(" 150.50 ") == parse_decimal("150.50")
    assert str(parse_decimal("150.50")) == "150.50"
    for text in ("1_000", "١٢", "²", "1" * 19, "", "+"):
        assert parse_int(text) is None, text
    assert parse_int(" 42 ") == 42 and parse_int("-7") == -7


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=1_0", "limit"),
        ("limit=٣", "limit"),
        ("limit=" + "9" * 5000, "query"),
        ("limit=0", "limit"),
        ("limit=", "limit"),
        ("status=OPEN", "status"),
        ("exchange=" + "B" * 65, "exchange"),
        ("exchange=BIN%0A", "exchange"),
        ("limt=5", "limt"),
        ("limit=5&limit=6", "limit"),
    ],
)
def test_query_values_are_bounded_and_unknown_ones_refused(
    client: TestClient, headers: dict[str, str], query: str, parameter: str
) -> None:
    error = error_of(client.get(f"/v1/trading/orders?{query}", headers=headers), 400)
    assert error["code"] == "INVALID_PARAMETER"
    assert error["details"]["parameter"] == parameter


def test_a_method_a_path_lacks_is_405_with_allow(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.request("PATCH", "/v1/trading/orders", headers=headers)
    error = error_of(response, 405)
    assert error["details"] == {"parameter": "method", "value": "PATCH"}
    assert response.headers["allow"] == "DELETE, GET, HEAD, POST"
    put = client.put("/v1/account/balance", headers=headers)
    assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD"


def test_head_answers_like_get_without_a_body(client: TestClient, headers: dict[str, str]) -> None:
    """RFC 9110: a general-purpose server supports HEAD wherever it supports GET."""
    get = client.get("/v1/account/balance", headers=headers)
    head = client.head("/v1/account/balance", headers=headers)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.content == b""
    assert client.head("/v1/account/balance").status_code == 401  # the same checks run


# Arbitrary text, surrogates excluded (they cannot be sent as UTF-8 at all), plus what breaks
# int() and Decimal(): digit runs past int()'s 4300-digit limit, other scripts' digits, `_`.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=300),
    st.text("0123456789", min_size=4301, max_size=4400),
    st.text("0123456789_²١٢３.-e", min_size=1, max_size=30),
)
NOT_A_SERVER_ERROR = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def shared() -> tuple[TestClient, dict[str, str]]:
    from tests.engine.api.conftest import auth_headers
    from tests.engine.api.conftest import settings as server_settings
    from velocimex_cli.engine.api.app import create_app

    app: Starlette = create_app(server_settings())
    with TestClient(app) as test_client:
        yield test_client, auth_headers(app.state.runtime.keys)  # type: ignore[misc]


def assert_handled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.text
    body = jsonfmt.loads(response.content)
    assert ("status" in body) != ("error" in body)


@NOT_A_SERVER_ERROR
@given(
    template=st.sampled_from(
        [
            "/v1/trading/orders/{}",
            "/v1/markets/{}/orderbook/BTC-USDT",
            "/v1/markets/BINANCE/orderbook/{}",
            "/v1/markets/{}/ticker/{}",
            "/v1/strategies/{}/deploy",
        ]
    ),
    value=TEXT,
)
def test_arbitrary_path_values_never_get_a_500(
    shared: tuple[TestClient, dict[str, str]], template: str, value: str
) -> None:
    client, headers = shared
    path = template.replace("{}", quote(value, safe=""))
    method = "POST" if path.endswith("/deploy") else "GET"
    body = {"exchange": "BINANCE", "symbol": "BTC/USDT"} if method == "POST" else None
    assert_handled(client.request(method, path, headers=headers, json=body))


@NOT_A_SERVER_ERROR
@given(
    path=st.sampled_from(
        [
            "/v1/trading/orders",
            "/v1/trading/fills",
            "/v1/markets",
            "/v1/markets/BINANCE/orderbook/BTC-USDT",
        ]
    ),
    name=st.sampled_from(["limit", "depth", "status", "exchange", "symbol", "order_id", "x"]),
    value=TEXT,
)
def test_arbitrary_query_values_never_get_a_500(
    shared: tuple[TestClient, dict[str, str]], path: str, name: str, value: str
) -> None:
    client, headers = shared
    assert_handled(client.get(path, params={name: value}, headers=headers))


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT | st.decimals(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@NOT_A_SERVER_ERROR
@given(
    field=st.sampled_from([*BTC, "time_in_force", "post_only", "client_order_id", "unknown"]),
    value=JSON_VALUE,
)
def test_arbitrary_body_fields_never_get_a_500(
    shared: tuple[TestClient, dict[str, str]], field: str, value: object
) -> None:
    client, headers = shared
    body = jsonfmt.dumps({**BTC, "time_in_force": "ioc", field: value}).encode()
    response = client.post(
        "/v1/trading/orders",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_handled(response)
