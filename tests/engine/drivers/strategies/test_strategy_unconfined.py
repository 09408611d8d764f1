"""Where strategy code cannot be confined: refused beyond loopback, warned about on loopback.

The engine is told that confinement is unavailable through its test-only switch
(sandbox.FORCE_UNCONFINED_ENV, read as the engine starts). A loopback engine then runs user
strategies only for keys with the `strategies` permission, and says on every deploy, in the
answer and in the deployment's log, that the code is not confined; an engine serving beyond
loopback refuses user strategies (upload and deploy). Built-in strategies deploy either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.cli.conftest import Harness, make_harness
from tests.engine.api.conftest import auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.api.exposure import is_loopback_host
from velocimex_cli.engine.drivers.strategies import sandbox
from velocimex_cli.engine.node import StrategyLimits

USER_STRATEGY = """
from velocimex_cli.strategy import Strategy


class Quiet(Strategy):
    id = "quiet"
"""
DEPLOY = {"exchange": "BINANCE", "symbol": "BTC/USDT", "params": {}}


@pytest.fixture
def unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sandbox.FORCE_UNCONFINED_ENV, "1")


def strategies_key(app: Starlette, account: str = "alice") -> dict[str, str]:
    """A key with the `strategies` permission."""
    return auth_headers(app.state.runtime.keys, account, permissions="read,trade,strategies")


@pytest.fixture
def loopback(unconfined: None, tmp_path: Path) -> Iterator[tuple[TestClient, Starlette]]:
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with TestClient(app) as client:
        yield client, app


def test_without_confinement_a_loopback_engine_refuses_user_code_to_an_ordinary_key(
    loopback: tuple[TestClient, Starlette],
) -> None:
    client, app = loopback
    ordinary = auth_headers(app.state.runtime.keys, "alice")  # read, trade
    added = client.post("/v1/strategies", json={"source": USER_STRATEGY}, headers=ordinary)
    assert added.status_code == 403, added.text
    assert added.json()["error"]["code"] == "PERMISSION_DENIED"
    # Added with the permission, the account's own trade key may still not run it unconfined.
    added = client.post(
        "/v1/strategies", json={"source": USER_STRATEGY}, headers=strategies_key(app)
    )
    assert added.status_code == 201, added.text
    refused = client.post("/v1/strategies/quiet/deploy", json=DEPLOY, headers=ordinary)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"
    assert "cannot confine" in error["message"] and "`strategies` permission" in error["message"]
    assert sandbox.FORCE_UNCONFINED_ENV in error["message"]  # says why it cannot


def test_without_confinement_a_loopback_engine_warns_on_every_deploy_of_user_code(
    loopback: tuple[TestClient, Starlette],
) -> None:
    client, app = loopback
    headers = strategies_key(app)
    added = client.post("/v1/strategies", json={"source": USER_STRATEGY}, headers=headers)
    assert added.status_code == 201, added.text
    for _ in range(2):
        deployed = client.post("/v1/strategies/quiet/deploy", json=DEPLOY, headers=headers)
        assert deployed.status_code == 201, deployed.text
        body = deployed.json()["data"]
        assert body["state"] == "running"
        assert len(body["warnings"]) == 1 and "NOT confined" in body["warnings"][0]
        path = f"/v1/strategies/deployments/{body['deployment_id']}/logs"
        logs = client.get(path, headers=headers).json()["data"]["logs"]
        warned = [line for line in logs if "NOT confined" in line["message"]]
        assert warned and warned[0]["level"] == "warning"
        # An ordinary key of the same account may not deploy it.
        ordinary = auth_headers(app.state.runtime.keys, "alice")
        refused = client.post("/v1/strategies/quiet/deploy", json=DEPLOY, headers=ordinary)
        assert refused.status_code == 403, refused.text


def test_without_confinement_built_in_strategies_deploy_without_a_warning(
    loopback: tuple[TestClient, Starlette],
) -> None:
    client, app = loopback
    headers = auth_headers(app.state.runtime.keys, "alice")
    deployed = client.post("/v1/strategies/sma-cross/deploy", json=DEPLOY, headers=headers)
    assert deployed.status_code == 201, deployed.text
    assert "warnings" not in deployed.json()["data"]


def test_without_confinement_an_engine_beyond_loopback_refuses_user_strategies(
    unconfined: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "engine"
    # A user strategy already in the data directory (put there by its owner, or added while
    # the engine served loopback): deploying it is refused too.
    (data_dir / "strategies").mkdir(parents=True)
    (data_dir / "strategies" / "quiet.py").write_text(USER_STRATEGY)
    (data_dir / "strategies" / "quiet.json").write_text(
        '{"strategy_id": "quiet", "name": "quiet", "description": "", "params": []}'
    )
    limits = StrategyLimits(confinement_required=True)
    app = create_app(settings(data_dir=data_dir, strategy_limits=limits))
    with TestClient(app) as client:
        # Even with the permission; a legacy flat file belongs to the local account.
        headers = strategies_key(app, "local")
        added = client.post("/v1/strategies", json={"source": USER_STRATEGY}, headers=headers)
        assert added.status_code == 403, added.text
        assert "beyond loopback" in added.json()["error"]["message"]
        deployed = client.post("/v1/strategies/quiet/deploy", json=DEPLOY, headers=headers)
        assert deployed.status_code == 403, deployed.text
        assert "beyond loopback" in deployed.json()["error"]["message"]
        built_in = client.post("/v1/strategies/sma-cross/deploy", json=DEPLOY, headers=headers)
        assert built_in.status_code == 201, built_in.text
        assert "warnings" not in built_in.json()["data"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.10", False), ("example.org", False)],
)  # fmt: skip
def test_an_engine_bound_beyond_loopback_requires_confinement(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_vmx_strategy_deploy_shows_the_warning_on_stderr(unconfined: None, tmp_path: Path) -> None:
    harness_iter = make_harness(tmp_path, ("read", "trade", "strategies"))
    vmx: Harness = next(harness_iter)
    try:
        source = tmp_path / "quiet.py"
        source.write_text(USER_STRATEGY)
        added = vmx.run("strategy", "add", str(source))
        assert added.exit_code == 0, (added.stdout, added.stderr)
        deployed = vmx.run("strategy", "deploy", "quiet", "-e", "BINANCE", "-s", "BTC/USDT")
        assert deployed.exit_code == 0, (deployed.stdout, deployed.stderr)
        assert "Warning: this strategy's code is NOT confined" in deployed.stderr
    finally:
        harness_iter.close()
