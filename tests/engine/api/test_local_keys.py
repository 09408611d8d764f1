"""The engine's loopback-only key endpoint, in-process: token, peer address, body, revocation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import settings
from velocimex_cli.engine.api import local_keys
from velocimex_cli.engine.api.app import create_app

TOKEN = "t" * 43
AUTH = {"X-VMX-Admin-Token": TOKEN}


def client_at(host: str) -> Iterator[TestClient]:
    app = create_app(settings())
    local_keys.install(app, TOKEN)
    with TestClient(app, client=(host, 50000)) as client:
        yield client


@pytest.fixture
def loopback() -> Iterator[TestClient]:
    yield from client_at("127.0.0.1")


def test_create_list_use_and_revoke_a_key(loopback: TestClient) -> None:
    made = loopback.post(
        "/v1/local/keys", json={"account": "zoe", "permissions": ["read"]}, headers=AUTH
    )
    assert made.status_code == 201, made.text
    key = made.json()["data"]
    assert key["account"] == "zoe" and key["permissions"] == ["read"] and key["api_secret"]
    headers = {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}
    assert loopback.get("/v1/account/balance", headers=headers).status_code == 200

    listed = loopback.get("/v1/local/keys", headers=AUTH).json()["data"]["keys"]
    assert [k["api_key"] for k in listed] == [key["api_key"]]
    assert key["api_secret"] not in str(listed)

    revoked = loopback.delete(f"/v1/local/keys/{key['api_key']}", headers=AUTH)
    assert revoked.json()["data"] == {"api_key": key["api_key"], "revoked": True}
    again = loopback.delete(f"/v1/local/keys/{key['api_key']}", headers=AUTH)
    assert again.json()["data"]["revoked"] is False
    assert loopback.get("/v1/account/balance", headers=headers).status_code == 401
    missing = loopback.delete("/v1/local/keys/vmxk_nope", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_the_token_is_required_and_checked(loopback: TestClient) -> None:
    for headers in ({}, {"X-VMX-Admin-Token": "wrong"}, {"X-VMX-Admin-Token": TOKEN[:-1]}):
        answer = loopback.post("/v1/local/keys", json={}, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "AUTHENTICATION_ERROR"
        assert loopback.get("/v1/local/keys", headers=headers).status_code == 401


def test_a_bad_body_is_invalid_parameter(loopback: TestClient) -> None:
    bad = loopback.post("/v1/local/keys", json={"permissions": "read"}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["parameter"] == "permissions"
    unknown = loopback.post("/v1/local/keys", json={"permissions": ["admin"]}, headers=AUTH)
    assert unknown.status_code == 400


def test_only_loopback_peers_are_served_even_with_the_token() -> None:
    for client in client_at("203.0.113.7"):
        answer = client.post("/v1/local/keys", json={}, headers=AUTH)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "PERMISSION_DENIED"


def test_a_plain_app_has_no_key_endpoint() -> None:
    with TestClient(create_app(settings())) as client:
        assert client.post("/v1/local/keys", json={}, headers=AUTH).status_code == 404
