"""The local profile's key and the `strategies` permission, through real `vmx` processes and a
real background engine: a fresh local key has it, and a local key provisioned by an older vmx
(read and trade only) is replaced by one that has it the first time the engine refuses it."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import VMX, vmx

pytestmark = pytest.mark.e2e

STRATEGY = """
from velocimex_cli.strategy import Strategy

class Upgraded(Strategy):
    id = "upgraded"
"""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.pop("FORCE_COLOR", None)
    env["VMX_HOME"] = str(tmp_path / "home")
    (tmp_path / "upgraded.py").write_text(STRATEGY)
    yield env
    subprocess.run([*VMX, "engine", "stop"], env=env, capture_output=True, timeout=30)


def credentials_file(env: dict[str, str]) -> Path:
    return Path(env["VMX_HOME"]) / "config" / "credentials" / "credentials.toml"


def test_an_old_local_key_is_replaced_by_one_that_may_add_strategies(
    home: dict[str, str], tmp_path: Path
) -> None:
    assert vmx(home, "order", "list").returncode == 0  # starts the engine, provisions the key
    first = vmx(home, "auth", "status", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["permissions"] == ["read", "trade", "strategies"]

    # What an older vmx provisioned and stored: a read,trade key of the local account (the
    # name vmx-local is kept for the provisioned key now), with its permissions in credentials.toml.
    made = vmx(home, "engine", "keys", "create", "--account", "local", "--name", "older-vmx",
               "--permissions", "read,trade", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    old = json.loads(made.stdout)
    credentials_file(home).write_text(
        f'[local]\napi_key = "{old["api_key"]}"\napi_secret = "{old["api_secret"]}"\n'
        'permissions = ["read", "trade"]\n'
    )
    before = json.loads(vmx(home, "auth", "status", "--json").stdout)
    assert before["permissions"] == ["read", "trade"] and before["accepted"] is True

    added = vmx(home, "strategy", "add", str(tmp_path / "upgraded.py"), "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["strategy_id"] == "upgraded"
    assert "Provisioned an API key for the local profile" in added.stderr

    after = json.loads(vmx(home, "auth", "status", "--json").stdout)
    assert after["permissions"] == ["read", "trade", "strategies"] and after["accepted"] is True
    assert old["api_key"] not in credentials_file(home).read_text()
    keys = json.loads(vmx(home, "engine", "keys", "list", "--json").stdout)["keys"]
    (was,) = [k for k in keys if k["api_key"] == old["api_key"]]
    assert was["revoked_at"] is not None  # the old secret is worth nothing now
    stored = tomllib.loads(credentials_file(home).read_text())["local"]["api_key"]
    (now,) = [k for k in keys if k["api_key"] == stored]  # as the local key endpoint lists it
    assert now["permissions"] == ["read", "trade", "strategies"] and now["revoked_at"] is None
    # The strategy belongs to the local account, whichever of its keys added it.
    listed = json.loads(vmx(home, "strategy", "list", "--json").stdout)["strategies"]
    assert "upgraded" in [s["strategy_id"] for s in listed]


def test_a_trade_key_from_the_environment_is_refused_not_replaced(
    home: dict[str, str], tmp_path: Path
) -> None:
    assert vmx(home, "order", "list").returncode == 0  # the engine runs
    made = vmx(home, "engine", "keys", "create", "--account", "local", "--json")
    key = json.loads(made.stdout)
    env = {**home, "VMX_API_KEY": key["api_key"], "VMX_API_SECRET": key["api_secret"]}
    refused = vmx(env, "strategy", "add", str(tmp_path / "upgraded.py"))
    assert refused.returncode == 3
    assert "vmx engine keys create --permissions read,trade,strategies" in refused.stderr
    assert "Provisioned" not in refused.stderr
