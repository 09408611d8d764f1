"""Key expiry, rotation (POST /v1/auth/rotate, the local endpoint's rotate) and the audit log,
on the real app with its clock pinned and a real data directory."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.engine.api.conftest import Clock, settings
from velocimex_cli.engine.api import local_keys
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.audit import AUDIT_FILE

TOKEN = "a" * 43
ADMIN = {"X-VMX-Admin-Token": TOKEN}
USER_STRATEGY = """
from velocimex_cli.strategy import Strategy

class Idle(Strategy):
    id = "idle"
"""


@dataclass
class Engine:
    client: TestClient
    app: Starlette
    clock: Clock
    data_dir: Path

    def key(self, account: str = "alice", **kwargs: object) -> dict[str, str]:
        made = self.app.state.runtime.keys.create(account, **kwargs)
        return {"X-API-Key": made.api_key, "X-API-Secret": made.api_secret}

    def audit(self) -> list[dict[str, object]]:
        text = (self.data_dir / AUDIT_FILE).read_text()
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    clock = Clock()
    data_dir = tmp_path / "engine"
    app = create_app(settings(data_dir=data_dir, clock=clock))
    local_keys.install(app, TOKEN)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield Engine(client, app, clock, data_dir)


def balance(engine: Engine, headers: dict[str, str]) -> int:
    return engine.client.get("/v1/account/balance", headers=headers).status_code


def test_an_expired_key_is_refused_with_a_message_saying_so(engine: Engine) -> None:
    headers = engine.key(expires_in=3600)
    assert balance(engine, headers) == 200
    engine.clock.advance(3599)
    assert balance(engine, headers) == 200
    engine.clock.advance(1)
    refused = engine.client.get("/v1/account/balance", headers=headers)
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "AUTHENTICATION_ERROR"
    assert "expired" in error["message"] and "vmx engine keys" in error["message"]
    assert error["details"] == {"expired_at": "2026-11-24T16:00:00.000000Z"}


def test_rotation_keeps_the_old_secret_for_the_grace_then_only_the_new_one(
    engine: Engine,
) -> None:
    old = engine.key()
    answer = engine.client.post("/v1/auth/rotate", json={"grace_seconds": 60}, headers=old)
    assert answer.status_code == 200, answer.text
    rotated = answer.json()["data"]
    assert rotated["api_key"] == old["X-API-Key"]
    assert rotated["previous_until"] == "2026-11-24T15:01:00.000000Z"
    new = {"X-API-Key": rotated["api_key"], "X-API-Secret": rotated["api_secret"]}
    assert new["X-API-Secret"] != old["X-API-Secret"]
    assert balance(engine, old) == 200 and balance(engine, new) == 200
    shown = engine.client.get("/v1/auth/key", headers=old).json()["data"]
    assert shown["secret_until"] == "2026-11-24T15:01:00.000000Z"
    assert engine.client.get("/v1/auth/key", headers=new).json()["data"]["secret_until"] is None
    engine.clock.advance(60)
    refused = engine.client.get("/v1/account/balance", headers=old)
    assert refused.status_code == 401 and "rotation" in refused.json()["error"]["message"]
    assert balance(engine, new) == 200


def test_a_retry_with_the_old_secret_keeps_it_and_drops_the_lost_one(engine: Engine) -> None:
    """The client lost the first answer: it retries with the secret it still has."""
    old = engine.key()
    lost = engine.client.post("/v1/auth/rotate", json={}, headers=old).json()["data"]
    engine.clock.advance(10)
    again = engine.client.post("/v1/auth/rotate", json={"grace_seconds": 30}, headers=old)
    assert again.status_code == 200
    latest = again.json()["data"]
    assert balance(engine, old) == 200
    assert balance(engine, {**old, "X-API-Secret": lost["api_secret"]}) == 401
    assert balance(engine, {**old, "X-API-Secret": latest["api_secret"]}) == 200


def test_a_zero_grace_stops_the_old_secret_at_once(engine: Engine) -> None:
    old = engine.key()
    answer = engine.client.post("/v1/auth/rotate", json={"grace_seconds": 0}, headers=old)
    assert answer.json()["data"]["previous_until"] is None
    assert balance(engine, old) == 401


def test_bad_rotations_are_refused(engine: Engine) -> None:
    old = engine.key()
    for body in ({"grace_seconds": -1}, {"grace_seconds": 10**9}, {"grace_seconds": "soon"}):
        bad = engine.client.post("/v1/auth/rotate", json=body, headers=old)
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["details"]["parameter"] == "grace_seconds"
    assert engine.client.post("/v1/auth/rotate", json={}).status_code == 401
    engine.client.delete(f"/v1/local/keys/{old['X-API-Key']}", headers=ADMIN)
    assert engine.client.post("/v1/auth/rotate", json={}, headers=old).status_code == 401


def test_rotation_renews_a_key_with_a_lifetime(engine: Engine) -> None:
    headers = engine.key(expires_in=86400)
    engine.clock.advance(86000)
    rotated = engine.client.post("/v1/auth/rotate", json={}, headers=headers).json()["data"]
    assert rotated["expires_at"] == "2026-11-26T14:53:20.000000Z"  # a day after the rotation
    new = {**headers, "X-API-Secret": rotated["api_secret"]}
    engine.clock.advance(3600)  # past the first expiry
    assert balance(engine, new) == 200


def test_the_local_endpoint_rotates_and_creates_keys_with_an_expiry(engine: Engine) -> None:
    made = engine.client.post(
        "/v1/local/keys", json={"account": "zoe", "expires_in": 600}, headers=ADMIN
    ).json()["data"]
    assert made["expires_at"] == "2026-11-24T15:10:00.000000Z"
    old = {"X-API-Key": made["api_key"], "X-API-Secret": made["api_secret"]}
    rotated = engine.client.post(
        f"/v1/local/keys/{made['api_key']}/rotate", json={"grace_seconds": 5}, headers=ADMIN
    )
    assert rotated.status_code == 200, rotated.text
    new = {**old, "X-API-Secret": rotated.json()["data"]["api_secret"]}
    assert balance(engine, old) == 200
    engine.clock.advance(5)
    assert balance(engine, old) == 401 and balance(engine, new) == 200
    missing = engine.client.post("/v1/local/keys/vmxk_nope/rotate", json={}, headers=ADMIN)
    assert missing.status_code == 404
    reserved = engine.client.post("/v1/local/keys", json={"name": "vmx-local"}, headers=ADMIN)
    assert reserved.status_code == 400 and "local profile" in reserved.text


def test_a_local_profile_key_revokes_the_earlier_ones(engine: Engine) -> None:
    body = {"local_profile": True}
    first = engine.client.post("/v1/local/keys", json=body, headers=ADMIN).json()["data"]
    other = engine.key("local")  # not the local profile's: stays
    second = engine.client.post("/v1/local/keys", json=body, headers=ADMIN).json()["data"]
    assert first["name"] == second["name"] == "vmx-local"
    states = {
        key["api_key"]: key["revoked_at"]
        for key in engine.client.get("/v1/local/keys", headers=ADMIN).json()["data"]["keys"]
    }
    assert states[first["api_key"]] is not None
    assert states[second["api_key"]] is None and states[other["X-API-Key"]] is None
    first_headers = {"X-API-Key": first["api_key"], "X-API-Secret": first["api_secret"]}
    assert balance(engine, first_headers) == 401
    assert balance(engine, other) == 200


def test_every_kind_of_change_is_audited_without_a_secret(engine: Engine) -> None:
    made = engine.client.post(
        "/v1/local/keys",
        json={
            "account": "alice",
            "permissions": ["read", "trade", "strategies"],
            "expires_in": 3600,
        },
        headers=ADMIN,
    ).json()["data"]
    headers = {"X-API-Key": made["api_key"], "X-API-Secret": made["api_secret"]}
    key = made["api_key"]
    rotated = engine.client.post("/v1/auth/rotate", json={}, headers=headers).json()["data"]
    headers["X-API-Secret"] = rotated["api_secret"]
    patched = engine.client.patch(
        "/v1/account/limits", json={"max_open_orders": 7}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    replaced = engine.client.put(
        "/v1/account/limits",
        json={"price_band_pct": None, "max_order_notional": None, "max_open_orders": 9,
              "max_orders_per_second": None},
        headers=headers,
    )  # fmt: skip
    assert replaced.status_code == 200, replaced.text
    added = engine.client.post("/v1/strategies", json={"source": USER_STRATEGY}, headers=headers)
    assert added.status_code == 201, added.text
    again = engine.client.post(
        "/v1/strategies", json={"source": USER_STRATEGY, "replace": True}, headers=headers
    )
    assert again.status_code == 201, again.text
    assert engine.client.delete("/v1/strategies/idle", headers=headers).status_code == 200
    engine.client.post(f"/v1/local/keys/{key}/rotate", json={"grace_seconds": 0}, headers=ADMIN)
    changed = engine.client.patch(
        f"/v1/local/keys/{key}", json={"permissions": ["read"], "expires_in": None}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["permissions"] == ["read"]
    assert changed.json()["data"]["expires_at"] is None
    engine.client.delete(f"/v1/local/keys/{key}", headers=ADMIN)

    records = engine.audit()
    assert [(r["action"], r["target"]) for r in records] == [
        ("key.create", key),
        ("key.rotate", key),
        ("limits.change", "alice"),
        ("limits.replace", "alice"),
        ("strategy.add", "idle"),
        ("strategy.replace", "idle"),
        ("strategy.remove", "idle"),
        ("key.rotate", key),
        ("key.permissions", key),
        ("key.expiry", key),
        ("key.revoke", key),
    ]
    by_key = {"who": key, "account": "alice", "address": "127.0.0.1"}
    admin = {"who": "local admin", "account": None, "address": "127.0.0.1"}
    whos = [admin, by_key, by_key, by_key, by_key, by_key, by_key, admin, admin, admin, admin]
    for record, who in zip(records, whos, strict=True):
        assert {k: record[k] for k in who} == who
        assert record["time"].startswith("2026-11-24T15:00:00")
    assert records[0]["details"]["expires_at"] == "2026-11-24T16:00:00.000000Z"
    assert records[2]["details"]["max_open_orders"] == 7
    assert records[8]["details"] == {
        "permissions": ["read"],
        "before": ["read", "trade", "strategies"],
    }
    assert records[9]["details"] == {"expires_at": None}
    text = (engine.data_dir / AUDIT_FILE).read_text()
    for secret in (made["api_secret"], rotated["api_secret"], TOKEN):
        assert secret not in text
    for word in ("secret", "salt", "hash"):
        assert word not in text
    assert stat.S_IMODE((engine.data_dir / AUDIT_FILE).stat().st_mode) == 0o600


def test_an_orders_stream_closes_when_its_key_expires_and_an_expired_key_cannot_connect() -> None:
    clock = Clock()
    app = create_app(settings(ws_key_check_seconds=0.05, clock=clock))
    with TestClient(app) as client:
        created = app.state.runtime.keys.create("alice", expires_in=60)
        headers = {"X-API-Key": created.api_key, "X-API-Secret": created.api_secret}
        with client.websocket_connect("/v1/ws/orders", headers=headers) as ws:
            assert json.loads(ws.receive_text())["type"] == "authenticated"
            clock.advance(60)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert (closed.value.code, closed.value.reason) == (1008, "API key expired")
        with client.websocket_connect("/v1/ws/orders", headers=headers) as ws:
            refused = json.loads(ws.receive_text())
            assert refused["type"] == "error" and "expired" in refused["error"]["message"]


def test_a_permission_or_expiry_change_applies_at_once(engine: Engine) -> None:
    headers = engine.key()
    order = {"exchange": "NASDAQ", "symbol": "AAPL", "side": "buy", "type": "limit",
             "quantity": 1, "price": "150.50"}  # fmt: skip
    placed = engine.client.post("/v1/trading/orders", json=order, headers=headers)
    assert placed.status_code == 201, placed.text
    key = headers["X-API-Key"]
    engine.client.patch(f"/v1/local/keys/{key}", json={"permissions": ["read"]}, headers=ADMIN)
    refused = engine.client.post("/v1/trading/orders", json=order, headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "PERMISSION_DENIED"
    engine.client.patch(f"/v1/local/keys/{key}", json={"expires_in": 1}, headers=ADMIN)
    assert balance(engine, headers) == 200
    engine.clock.advance(1)
    assert balance(engine, headers) == 401
    bad = engine.client.patch(f"/v1/local/keys/{key}", json={}, headers=ADMIN)
    assert bad.status_code == 400
    half_bad = {"permissions": ["read", "trade"], "expires_in": -1}
    refused = engine.client.patch(f"/v1/local/keys/{key}", json=half_bad, headers=ADMIN)
    assert refused.status_code == 400  # and nothing of it applied:
    listed = engine.client.get("/v1/local/keys", headers=ADMIN).json()["data"]["keys"]
    assert [k["permissions"] for k in listed if k["api_key"] == key] == [["read"]]
    unknown = engine.client.patch("/v1/local/keys/vmxk_no", json={"expires_in": 5}, headers=ADMIN)
    assert unknown.status_code == 404


def test_a_retired_secret_or_an_expired_key_cannot_use_up_the_keys_rate_limit() -> None:
    clock = Clock()
    app = create_app(settings(rest_limit_per_minute=5, clock=clock))
    with TestClient(app) as client:
        made = app.state.runtime.keys.create("alice")
        old = {"X-API-Key": made.api_key, "X-API-Secret": made.api_secret}
        rotated = client.post("/v1/auth/rotate", json={"grace_seconds": 1}, headers=old)
        new = {**old, "X-API-Secret": rotated.json()["data"]["api_secret"]}
        clock.advance(1)
        answers = [client.get("/v1/markets/status", headers=old).status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]  # counted against the caller's address
        fresh = client.get("/v1/markets/status", headers=new)
        assert fresh.status_code == 200 and fresh.headers["X-RateLimit-Remaining"] == "3"


def test_provisioning_falls_back_for_an_engine_from_before_the_marker() -> None:
    """An engine started by an older vmx refuses the unknown `local_profile` field, as its
    body check refused any unknown field; the key is then asked for the old way."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.engine.api.conftest import LiveServer
    from velocimex_cli import engine_record
    from velocimex_cli.local import keys as local_keys

    bodies: list[dict[str, object]] = []

    async def old_create(request: Request) -> JSONResponse:
        body = await request.json()
        bodies.append(body)
        if "local_profile" in body:
            error = {"code": "INVALID_PARAMETER", "message": "Unknown field local_profile",
                     "details": {"parameter": "local_profile", "value": "True"}}  # fmt: skip
            return JSONResponse({"error": error}, status_code=400)
        key = {"api_key": "vmxk_old", "api_secret": "s", "name": body.get("name")}
        return JSONResponse({"status": "ok", "data": key}, status_code=201)

    app = Starlette(routes=[Route("/v1/local/keys", old_create, methods=["POST"])])
    with LiveServer(app) as server:
        engine = engine_record.EngineStatus(server.url, 1, None, "", "", admin_token=TOKEN)
        assert local_keys.provision_key(engine) == ("vmxk_old", "s")
    assert bodies == [
        {"account": "local", "permissions": ["read", "trade"], "local_profile": True},
        {"account": "local", "permissions": ["read", "trade"], "name": "vmx-local"},
    ]
