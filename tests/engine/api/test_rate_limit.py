"""REST rate limits: headers on every response, 429 + Retry-After, a sliding (not clock) window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import Clock, auth_headers, settings
from velocimex_cli.engine.api.app import create_app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(clock: Clock) -> Iterator[tuple[Starlette, TestClient]]:
    app = create_app(settings(rest_limit_per_minute=5, clock=clock))
    with TestClient(app) as client:
        yield app, client


def test_headers_count_down_then_429(limited: tuple[Starlette, TestClient], clock: Clock) -> None:
    app, client = limited
    headers = auth_headers(app.state.runtime.keys)
    remaining = []
    for _ in range(5):
        response = client.get("/v1/markets/status", headers=headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert int(response.headers["X-RateLimit-Reset"]) == int(clock.now.timestamp()) + 60
    assert remaining == [4, 3, 2, 1, 0]
    refused = client.get("/v1/markets/status", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_every_response_carries_the_headers(limited: tuple[Starlette, TestClient]) -> None:
    _, client = limited
    for response in (client.get("/v1/nowhere"), client.get("/v1/account/balance")):
        assert response.status_code in (401, 404)
        assert "X-RateLimit-Remaining" in response.headers


def test_window_slides_rather_than_resetting_on_the_minute(
    limited: tuple[Starlette, TestClient], clock: Clock
) -> None:
    app, client = limited
    headers = auth_headers(app.state.runtime.keys)
    clock.advance(55)  # late in a clock minute: a fixed window would reset in 5 s
    for _ in range(5):
        assert client.get("/v1/markets/status", headers=headers).status_code == 200
    clock.advance(10)  # next clock minute, but the 5 requests are still within 60 s
    refused = client.get("/v1/markets/status", headers=headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "50"
    clock.advance(50)
    assert client.get("/v1/markets/status", headers=headers).status_code == 200


def test_keys_have_their_own_budget_and_anonymous_calls_count_per_ip(
    limited: tuple[Starlette, TestClient],
) -> None:
    app, client = limited
    first, second = auth_headers(app.state.runtime.keys), auth_headers(app.state.runtime.keys)
    for _ in range(5):
        client.get("/v1/markets/status", headers=first)
    assert client.get("/v1/markets/status", headers=first).status_code == 429
    assert client.get("/v1/markets/status", headers=second).status_code == 200
    for _ in range(5):
        client.get("/v1/markets/status")
    assert client.get("/v1/markets/status").status_code == 429
    bogus = {"X-API-Key": "vmxk_made_up", "X-API-Secret": "x"}
    assert client.get("/v1/markets/status", headers=bogus).status_code == 429  # same IP bucket


def test_health_is_not_counted(limited: tuple[Starlette, TestClient]) -> None:
    _, client = limited
    for _ in range(10):
        assert client.get("/v1/health").status_code == 200


def test_no_rate_limit() -> None:
    app = create_app(settings(rate_limit=False, rest_limit_per_minute=1))
    with TestClient(app) as client:
        headers = auth_headers(app.state.runtime.keys)
        for _ in range(5):
            response = client.get("/v1/markets/status", headers=headers)
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers


def test_the_owners_key_has_the_larger_local_limit(clock: Clock) -> None:
    """The local profile's provisioned key (`vmx-local`) is the owner's: a 110-line order file
    goes through without a pause; any other key keeps the API's 100 a minute."""
    app = create_app(settings(clock=clock, rest_limit_per_minute=100))  # the engine's default
    with TestClient(app) as client:
        keys = app.state.runtime.keys
        owner = auth_headers(keys, "local", name="vmx-local")
        other = auth_headers(keys, "desk")
        for _ in range(110):
            response = client.get("/v1/account/balance", headers=owner)
            assert response.status_code == 200, response.text
        assert response.headers["X-RateLimit-Limit"] == "1200"
        answers = [client.get("/v1/account/balance", headers=other) for _ in range(101)]
        assert [r.status_code for r in answers[:100]] == [200] * 100
        assert answers[-1].status_code == 429 and answers[-1].headers["X-RateLimit-Limit"] == "100"
