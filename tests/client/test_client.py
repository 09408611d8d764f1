"""The importable client against the real engine app: exact decimals, typed errors, auth."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from tests.client.conftest import Engine
from velocimex_cli.client import AsyncClient, Client
from velocimex_cli.client.auth import ApiKeyAuth
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.wire.errors import (
    AuthenticationError,
    InsufficientBalance,
    InvalidParameter,
    NotFound,
)


def client_for(engine: Engine, **kwargs: object) -> Client:
    return Client(
        "http://testserver", engine.api_key, engine.api_secret, transport=engine.transport, **kwargs
    )


def test_market_data_is_decimal_exact(engine: Engine) -> None:
    with client_for(engine) as api:
        book = api.order_book("BINANCE", "BTC/USDT", depth=5)
        assert len(book["bids"]) == 5
        assert all(isinstance(level["price"], Decimal) for level in book["bids"])
        assert book["bids"][0]["price"].as_tuple().exponent == -2  # 0.01 tick, digits kept
        assert api.rate_limit is not None and api.rate_limit.limit is not None
        markets = api.markets("BINANCE")["markets"]
        assert {m["exchange"] for m in markets} == {"BINANCE"}


def test_place_generates_a_client_order_id_and_is_idempotent(engine: Engine) -> None:
    request = {
        "exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
        "quantity": Decimal("0.01000"), "price": Decimal("1000.00"),
    }  # fmt: skip
    with client_for(engine) as api:
        order = api.place_order(request)
        assert order["client_order_id"]
        again = api.place_order({**request, "client_order_id": order["client_order_id"]})
        assert again["order_id"] == order["order_id"]
        assert len(api.list_orders()["orders"]) == 1
        found = api.get_order(f"client_order_id:{order['client_order_id']}")
        assert found["order_id"] == order["order_id"]
        assert api.cancel_order(order["order_id"])["status"] == "canceled"


def test_errors_are_typed(engine: Engine) -> None:
    with client_for(engine) as api:
        with pytest.raises(NotFound):
            api.get_order("999999")
        with pytest.raises(InvalidParameter) as bad:
            api.place_order(
                {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                 "quantity": 1, "price": Decimal("-1")}
            )  # fmt: skip
        assert bad.value.details["parameter"] == "price"
        with pytest.raises(InsufficientBalance):
            api.place_order(
                {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                 "quantity": 100, "price": 60000}
            )  # fmt: skip
    wrong = Client("http://testserver", engine.api_key, "wrong", transport=engine.transport)
    with wrong, pytest.raises(AuthenticationError):
        wrong.balance()


def test_auth_and_client_reprs_never_show_the_secret(engine: Engine) -> None:
    auth = ApiKeyAuth(engine.api_key, engine.api_secret)
    assert engine.api_secret not in repr(auth) and engine.api_key not in repr(auth)
    api = client_for(engine)
    assert engine.api_secret not in repr(api) + repr(api.__dict__)
    api.close()


def test_async_client_makes_the_same_calls(engine: Engine) -> None:
    transport = httpx.ASGITransport(app=engine.client.app)

    async def scenario() -> None:
        async with AsyncClient(
            "http://testserver", engine.api_key, engine.api_secret, transport=transport
        ) as api:
            balance = await api.balance()
            assert any(b["asset"] == "USDT" for b in balance["balances"])
            order = await api.place_order(
                {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
                 "quantity": Decimal("0.01"), "price": Decimal("1000")}
            )  # fmt: skip
            assert order["status"] == "open"
            with pytest.raises(NotFound):
                await api.get_order("31337")

    asyncio.run(scenario())


def test_connection_reuse_one_pool_per_client(engine: Engine) -> None:
    api = client_for(engine, retry=RetryPolicy(attempts=1))
    pool = api._http
    api.markets_status()
    api.balance()
    assert api._http is pool
    api.close()


def test_local_order_rules_match_the_engine(engine: Engine) -> None:
    """A market FOK passes local validation and is executed; a market GTC never leaves."""
    from velocimex_cli.client.orders import build_order
    from velocimex_cli.wire.errors import InvalidParameter as LocalInvalid

    body = build_order("binance", "btc-usdt", "buy", "0.001", time_in_force="fok")
    assert body["type"] == "market" and body["time_in_force"] == "fok"
    with client_for(engine) as api:
        placed = api.place_order(body)
    assert (placed["type"], placed["time_in_force"]) == ("market", "fok")
    assert placed["status"] == "filled"  # the simulated book is deep enough
    with pytest.raises(LocalInvalid) as caught:
        build_order("BINANCE", "BTC/USDT", "buy", "0.001", time_in_force="gtc")
    assert caught.value.details["parameter"] == "time_in_force"
