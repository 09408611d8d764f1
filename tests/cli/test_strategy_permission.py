"""The `strategies` key permission through the real `vmx` app: `vmx strategy add` with a
trade-only key is refused with what to do, a key that has it adds the file, and `vmx engine
keys` creates and lists keys with it (never by default)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Harness

STRATEGY = """
from velocimex_cli.strategy import Strategy

class Mine(Strategy):
    id = "mine"
"""


def test_a_trade_key_cannot_add_a_strategy_and_is_told_which_key_can(
    vmx: Harness, tmp_path: Path
) -> None:
    path = tmp_path / "mine.py"
    path.write_text(STRATEGY, encoding="utf-8")
    refused = vmx.run("strategy", "add", str(path))  # the harness's key: read,trade
    assert refused.exit_code == 3, refused.stderr
    assert "'strategies' permission" in refused.stderr
    assert "vmx engine keys create --permissions read,trade,strategies" in refused.stderr
    listed = vmx.json("strategy", "list")["strategies"]
    assert "mine" not in [s["strategy_id"] for s in listed]

    created = vmx.client.app.state.runtime.keys.create(  # type: ignore[attr-defined]
        "alice", "uploads", "read,trade,strategies"
    )
    env = {"VMX_API_KEY": created.api_key, "VMX_API_SECRET": created.api_secret}
    added = vmx.run("strategy", "add", str(path), "--json", env=env)
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["strategy_id"] == "mine"
    shown = vmx.run("strategy", "show", "mine")  # the trade key of the same account sees it
    assert shown.exit_code == 0, shown.stderr
    removed = vmx.run("strategy", "remove", "mine")
    assert removed.exit_code == 3 and "'strategies' permission" in removed.stderr


def test_engine_keys_create_gives_strategies_only_when_asked(vmx: Harness, tmp_path: Path) -> None:
    data_dir = str(tmp_path / "offline")
    plain = vmx.run("engine", "keys", "create", "--data-dir", data_dir, "--json")
    assert plain.exit_code == 0, plain.stderr
    assert json.loads(plain.stdout)["permissions"] == ["read", "trade"]
    asked = vmx.run(
        "engine", "keys", "create", "--data-dir", data_dir, "--account", "quant",
        "--permissions", "read,trade,strategies", "--json",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    assert json.loads(asked.stdout)["permissions"] == ["read", "trade", "strategies"]
    listed = vmx.run("engine", "keys", "list", "--data-dir", data_dir, "--json")
    by_account = {k["account"]: k["permissions"] for k in json.loads(listed.stdout)["keys"]}
    assert by_account == {"local": ["read", "trade"], "quant": ["read", "trade", "strategies"]}
    table = vmx.run("engine", "keys", "list", "--data-dir", data_dir)
    assert "read,trade,strategies" in table.stdout
    wrong = vmx.run("engine", "keys", "create", "--data-dir", data_dir, "--permissions", "upload")
    assert wrong.exit_code == 2 and "read, trade, strategies" in wrong.stderr
    helped = vmx.run("engine", "keys", "create", "--help")
    assert "strategies" in helped.stdout
