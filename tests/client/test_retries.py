"""Retries, backoff and exactly-once placement, against a stand-in remote server.

The stand-ins are httpx MockTransports (a remote server is the one thing we may fake) or a
fault-injecting wrapper around the real engine app's transport.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from tests.client.conftest import Engine
from velocimex_cli.client import Client, Unreachable
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import (
    ExitCode,
    InternalError,
    RateLimitExceeded,
    StorageUnavailable,
)

OK = {"status": "ok", "data": {"markets": []}}
ORDER = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
         "quantity": 1, "price": 100}  # fmt: skip


def remote(responses: list[Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


def client(transport: httpx.BaseTransport, sleeps: list[float], **policy: Any) -> Client:
    retry = RetryPolicy(rng=random.Random(1), **policy)
    return Client("http://remote", "key", "secret", transport=transport, sleep=sleeps.append,
                  retry=retry)  # fmt: skip


def test_429_honours_retry_after() -> None:
    sleeps: list[float] = []
    transport, seen = remote(
        [httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json=OK)]
    )
    assert client(transport, sleeps).markets_status() == {"markets": []}
    assert len(seen) == 2 and 2.0 <= sleeps[0] < 2.3


def test_429_uses_x_ratelimit_reset_when_no_retry_after() -> None:
    sleeps: list[float] = []
    transport, _ = remote(
        [httpx.Response(429, headers={"X-RateLimit-Reset": "1005"}), httpx.Response(200, json=OK)]
    )
    api = client(transport, sleeps, now=lambda: 1000.0)
    api.markets_status()
    assert 5.0 <= sleeps[0] < 5.3


def test_429_that_outlasts_the_retries_raises_rate_limit_exceeded() -> None:
    sleeps: list[float] = []
    body = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down", "details": {}}}
    transport, seen = remote([httpx.Response(429, json=body, headers={"Retry-After": "0"})] * 3)
    with pytest.raises(RateLimitExceeded):
        client(transport, sleeps, attempts=3).markets_status()
    assert len(seen) == 3
    far, _ = remote([httpx.Response(429, json=body, headers={"Retry-After": "3600"})])
    with pytest.raises(RateLimitExceeded):
        client(far, []).markets_status()  # never sleeps an hour: gives up at once


def test_backoff_is_exponential_with_jitter_for_idempotent_requests() -> None:
    sleeps: list[float] = []
    transport, seen = remote([httpx.Response(503)] * 3 + [httpx.Response(200, json=OK)])
    client(transport, sleeps, attempts=4, base_delay=1.0).markets_status()
    assert len(seen) == 4
    caps = [1.0, 2.0, 4.0]
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))
    assert len(set(sleeps)) == 3  # jittered, not fixed


def test_a_post_is_not_retried_after_a_5xx() -> None:
    transport, seen = remote([httpx.Response(503), httpx.Response(200, json=OK)])
    with pytest.raises(InternalError):
        client(transport, []).deploy_strategy("s", "BINANCE", "BTC/USDT")
    assert len(seen) == 1


def test_connection_refused_is_unreachable_after_retries() -> None:
    sleeps: list[float] = []
    request = httpx.Request("GET", "http://remote")
    transport, seen = remote([httpx.ConnectError("refused", request=request)] * 4)
    with pytest.raises(Unreachable) as caught:
        client(transport, sleeps).order_book("BINANCE", "BTC/USDT")
    assert len(seen) == 4 and "http://remote" in str(caught.value)


class LoseFirstResponse(httpx.BaseTransport):
    """The real engine receives and executes the request; the response never arrives."""

    def __init__(self, inner: httpx.BaseTransport, method: str = "POST") -> None:
        self.inner = inner
        self.method = method
        self.posts = 0
        self.lookups: list[str] = []
        self.tripped = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
        if "client_order_id:" in request.url.path:
            self.lookups.append(request.url.path)
        response = self.inner.handle_request(request)
        if request.method == self.method and not self.tripped:
            self.tripped = True
            response.read()
            raise httpx.ReadTimeout("timed out waiting for the response", request=request)
        return response


def test_placement_timeout_looks_the_order_up_and_never_places_twice(engine: Engine) -> None:
    flaky = LoseFirstResponse(engine.transport)
    api = Client("http://testserver", engine.api_key, engine.api_secret, transport=flaky,
                 sleep=lambda s: None)  # fmt: skip
    order = api.place_order({**ORDER, "quantity": "0.01", "price": "1000"})
    assert flaky.posts == 1  # looked up, not re-sent
    assert flaky.lookups == [f"/v1/trading/orders/client_order_id:{order['client_order_id']}"]
    assert len(api.list_orders()["orders"]) == 1


def test_placement_lost_before_the_server_resends_with_the_same_id() -> None:
    request = httpx.Request("POST", "http://remote")
    not_found = {"error": {"code": "NOT_FOUND", "message": "no such order", "details": {}}}
    placed = {"status": "ok", "data": {"order_id": "7", "client_order_id": "abc", "status": "open"}}
    transport, seen = remote(
        [
            httpx.ReadTimeout("lost", request=request),
            httpx.Response(404, json=not_found),
            httpx.Response(201, json=placed),
        ]
    )
    order = client(transport, []).place_order({**ORDER, "client_order_id": "abc"})
    assert order["order_id"] == "7"
    assert [r.method for r in seen] == ["POST", "GET", "POST"]
    bodies = [jsonfmt.loads(r.content) for r in seen if r.method == "POST"]
    assert bodies[0]["client_order_id"] == bodies[1]["client_order_id"] == "abc"


def test_placement_whose_fate_cannot_be_checked_says_how_to_check() -> None:
    request = httpx.Request("POST", "http://remote")
    transport, _ = remote(
        [httpx.ReadTimeout("lost", request=request)]
        + [httpx.ConnectError("down", request=request)] * 4
    )
    with pytest.raises(Unreachable) as caught:
        client(transport, []).place_order({**ORDER, "client_order_id": "abc"})
    assert "vmx order show client_order_id:abc" in str(caught.value)


def test_placement_refused_as_not_stored_is_raised_as_it_is_and_not_looked_up() -> None:
    not_stored = {
        "error": {
            "code": "STORAGE_UNAVAILABLE",
            "message": "not placed: the engine could not store it; nothing was executed",
            "details": {"executed": False},
        }
    }
    transport, seen = remote([httpx.Response(503, json=not_stored)])
    with pytest.raises(StorageUnavailable) as caught:
        client(transport, []).place_order({**ORDER, "client_order_id": "abc"})
    assert caught.value.exit_code == ExitCode.NOT_STORED
    assert [r.method for r in seen] == ["POST"]


def test_placement_answered_500_is_looked_up_before_anyone_places_it_again() -> None:
    failed = {"error": {"code": "INTERNAL_ERROR", "message": "boom", "details": {}}}
    placed = {
        "status": "ok",
        "data": {"order_id": "7", "client_order_id": "abc", "status": "filled"},
    }
    transport, seen = remote([httpx.Response(500, json=failed), httpx.Response(200, json=placed)])
    order = client(transport, []).place_order({**ORDER, "client_order_id": "abc"})
    assert order["order_id"] == "7" and order["status"] == "filled"
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/v1/trading/orders"),
        ("GET", "/v1/trading/orders/client_order_id:abc"),
    ]

    not_found = {"error": {"code": "NOT_FOUND", "message": "no such order", "details": {}}}
    transport, seen = remote(
        [httpx.Response(500, json=failed), httpx.Response(404, json=not_found)]
    )
    with pytest.raises(InternalError):
        client(transport, []).place_order({**ORDER, "client_order_id": "abc"})
    assert [r.method for r in seen] == ["POST", "GET"]


def test_decimal_bodies_are_sent_exactly() -> None:
    transport, seen = remote([httpx.Response(201, json={"status": "ok", "data": {}})])
    from decimal import Decimal

    client(transport, []).place_order({**ORDER, "quantity": Decimal("0.10"),
                                       "price": Decimal("150.50")})  # fmt: skip
    assert b'"price": 150.50' in seen[0].content and b'"quantity": 0.10' in seen[0].content
    assert seen[0].headers["X-API-Key"] == "key"


def test_placement_waits_out_429s_only_within_its_bound_and_announces_each() -> None:
    from velocimex_cli.client.policy import RATE_LIMITED, Sleep

    limited = httpx.Response(429, headers={"Retry-After": "2", "X-RateLimit-Limit": "100"})
    transport, seen = remote([limited, limited, httpx.Response(201, json=OK)])
    sleeps: list[float] = []
    heard: list[Sleep] = []
    retry = RetryPolicy(base_delay=0.0, order_wait=3.0)
    api = Client("http://remote", "key", "secret", transport=transport, sleep=sleeps.append,
                 retry=retry, on_wait=heard.append)  # fmt: skip
    with pytest.raises(RateLimitExceeded) as caught:
        api.place_order(ORDER)
    assert len(seen) == 2 and sleeps == [2.0]  # the second 2 s wait would pass the 3 s bound
    assert [(h.reason, h.seconds, h.limit) for h in heard] == [(RATE_LIMITED, 2.0, 100)]
    assert caught.value.details["max_wait"] == 3 and caught.value.details["retry_after"] == 4


def test_unbounded_placement_waits_as_long_as_asked() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "30"})
    placed = {"status": "ok", "data": {"order_id": "1"}}
    transport, _ = remote([limited, limited, httpx.Response(201, json=placed)])
    sleeps: list[float] = []
    api = Client("http://remote", "key", "secret", transport=transport, sleep=sleeps.append,
                 retry=RetryPolicy(base_delay=0.0, order_wait=None))  # fmt: skip
    assert api.place_order(ORDER)["order_id"] == "1" and sleeps == [30.0, 30.0]


def test_async_client_paces_from_the_headers_it_last_saw() -> None:
    import asyncio

    from velocimex_cli.client import AsyncClient
    from velocimex_cli.client.policy import PACING, Sleep

    headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"}

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OK, headers=headers)

    slept: list[float] = []
    heard: list[Sleep] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario() -> None:
        async with AsyncClient("http://remote", "key", "secret",
                               transport=httpx.MockTransport(handler), sleep=sleep,
                               retry=RetryPolicy(now=lambda: 1000.0),
                               on_wait=heard.append) as api:  # fmt: skip
            await api.pace()  # nothing seen yet: no wait
            await api.markets_status()
            await api.pace()

    asyncio.run(scenario())
    assert slept == [10.0] and [(h.reason, h.limit) for h in heard] == [(PACING, 5)]
