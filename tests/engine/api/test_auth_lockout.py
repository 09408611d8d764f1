"""Failed authentication cannot lock a key out: wrong secrets count against the caller's IP,
and a 401 does not echo the key id it was given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import LiveServer, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt

LIMIT = 100  # the reference's REST limit per minute


@pytest.fixture(params=["inprocess", "loopback"])
def limited(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    if request.param == "inprocess":
        app = create_app(settings(rest_limit_per_minute=LIMIT))
        with TestClient(app) as client:
            yield client, auth_headers(app.state.runtime.keys)
        return
    app = create_app(settings(rest_limit_per_minute=LIMIT, data_dir=tmp_path / "engine"))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        yield client, auth_headers(app.state.runtime.keys)


def test_wrong_secrets_naming_a_key_do_not_lock_its_owner_out(
    limited: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, owner = limited
    attacker = {"X-API-Key": owner["X-API-Key"], "X-API-Secret": "guessed-wrong"}
    statuses = [
        client.get("/v1/account/balance", headers=attacker).status_code for _ in range(LIMIT + 20)
    ]
    # The guesses are limited per IP: 100 answered 401, then 429.
    assert statuses[:LIMIT] == [401] * LIMIT
    assert set(statuses[LIMIT:]) == {429}
    # The owner's own window was never touched.
    response = client.get("/v1/account/balance", headers=owner)
    assert response.status_code == 200, response.text
    assert response.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
    placed = client.post(
        "/v1/trading/orders",
        json={
            "exchange": "BINANCE",
            "symbol": "BTC/USDT",
            "side": "buy",
            "type": "limit",
            "quantity": "0.001",
            "price": "1000.00",
        },
        headers=owner,
    )
    assert placed.status_code == 201, placed.text


def test_an_unknown_key_is_limited_per_ip_too(
    limited: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, owner = limited
    for index in range(LIMIT):
        guess = {"X-API-Key": f"vmx_guess{index}", "X-API-Secret": "x"}
        assert client.get("/v1/markets/status", headers=guess).status_code == 401
    refused = client.get("/v1/markets/status", headers={"X-API-Key": "vmx_more"})
    assert refused.status_code == 429
    assert client.get("/v1/markets/status", headers=owner).status_code == 200


def test_authentication_errors_do_not_echo_the_key_id(
    limited: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, owner = limited
    key = owner["X-API-Key"]
    for headers in (
        {"X-API-Key": key, "X-API-Secret": "wrong"},
        {"X-API-Key": key},
        {"X-API-Key": "vmx_unknown_key_id", "X-API-Secret": "wrong"},
    ):
        response = client.get("/v1/account/balance", headers=headers)
        assert response.status_code == 401
        error = jsonfmt.loads(response.content)["error"]
        assert error["code"] == "AUTHENTICATION_ERROR"
        assert error["details"] == {}
        assert headers["X-API-Key"] not in response.text
