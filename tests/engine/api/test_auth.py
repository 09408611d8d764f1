"""Authentication, permissions and IP allow-lists, through the HTTP API."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.engine.api.conftest import ORDER, LiveServer, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.keys import KeyStore


def code_of(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def test_missing_headers(client: TestClient) -> None:
    response = client.get("/v1/account/balance")
    assert response.status_code == 401 and code_of(response) == "AUTHENTICATION_ERROR"
    assert "X-API-Key" in response.json()["error"]["message"]


def test_wrong_key_and_wrong_secret(app: Starlette, client: TestClient) -> None:
    created = app.state.runtime.keys.create("alice")
    wrong_key = {"X-API-Key": "vmxk_nope", "X-API-Secret": created.api_secret}
    wrong_secret = {"X-API-Key": created.api_key, "X-API-Secret": "not-the-secret"}
    for headers in (wrong_key, wrong_secret):
        response = client.get("/v1/account/balance", headers=headers)
        assert response.status_code == 401 and code_of(response) == "AUTHENTICATION_ERROR"
        assert created.api_secret not in response.text


def test_revoked_key_is_refused_at_once(app: Starlette, client: TestClient) -> None:
    created = app.state.runtime.keys.create("alice")
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    assert client.get("/v1/account/balance", headers=headers).status_code == 200
    assert app.state.runtime.keys.revoke(created.api_key)
    response = client.get("/v1/account/balance", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_read_only_key_cannot_trade(app: Starlette, client: TestClient) -> None:
    created = app.state.runtime.keys.create("alice", permissions="read")
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    assert client.get("/v1/trading/orders", headers=headers).status_code == 200
    for response in (
        client.post("/v1/trading/orders", json=ORDER, headers=headers),
        client.delete("/v1/trading/orders", headers=headers),
        client.delete("/v1/trading/orders/1", headers=headers),
    ):
        assert response.status_code == 403 and code_of(response) == "PERMISSION_DENIED"
        assert response.json()["error"]["details"]["permission"] == "trade"


@pytest.mark.parametrize(("caller", "status"), [("10.1.2.3", 403), ("192.168.7.9", 200)])
def test_ip_allow_list(app: Starlette, caller: str, status: int) -> None:
    with TestClient(app, client=(caller, 50000)) as client:
        created = app.state.runtime.keys.create("alice", ip_allow=["192.168.0.0/16"])
        headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
        response = client.get("/v1/account/balance", headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert code_of(response) == "PERMISSION_DENIED"
        assert response.json()["error"]["details"]["ip"] == caller


def test_a_forwarded_for_header_cannot_borrow_an_allowed_address(live: LiveServer) -> None:
    """The engine is no proxy's backend: X-Forwarded-For from a loopback client is ignored."""
    keys = live.app.state.runtime.keys
    created = keys.create("alice", ip_allow=["192.168.0.0/16"])
    headers = {
        "X-API-Key": created.api_key,
        "X-API-Secret": created.api_secret,
        "X-Forwarded-For": "192.168.7.9",
    }
    response = httpx.get(f"{live.url}/v1/account/balance", headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["details"]["ip"] == "127.0.0.1"


@pytest.mark.anyio
async def test_asgi_transport_works_without_lifespan(app: Starlette) -> None:
    """httpx.ASGITransport runs no lifespan: the engine starts on the first request."""
    created = app.state.runtime.keys.create("alice")
    headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as http:
        response = await http.get("/v1/account/balance", headers=headers)
    assert response.status_code == 200, response.text
    await app.state.runtime.stop()


def test_new_key_from_another_process_funds_a_new_account(tmp_path: Path) -> None:
    """Keys created or revoked by another process apply to the running server, no restart."""
    data_dir = tmp_path / "engine"
    app = create_app(settings(data_dir=data_dir))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        store = KeyStore.open(data_dir)
        created = store.create("carol", permissions=["read"])
        store.close()
        headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
        response = http.get("/v1/account/balance", headers=headers)
        assert response.status_code == 200, response.text
        balances = {b["asset"]: b["total"] for b in response.json()["data"]["balances"]}
        assert Decimal(str(balances["USD"])) > 0
        store = KeyStore.open(data_dir)
        store.revoke(created.api_key)
        store.close()
        deadline = time.monotonic() + 3  # verified keys are remembered for up to a second
        while http.get("/v1/account/balance", headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "revoked key still accepted"
            time.sleep(0.1)


def test_secrets_are_stored_hashed(tmp_path: Path) -> None:
    store = KeyStore.open(tmp_path)
    created = store.create("alice")
    store.close()
    raw = (tmp_path / "engine.db").read_bytes()
    wal = tmp_path / "engine.db-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert created.api_secret.encode() not in raw
    assert created.api_secret not in repr(created)
