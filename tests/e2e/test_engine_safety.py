"""Data safety of the local engine, as real `vmx` subprocesses on real loopback sockets.

One engine per data directory (an flock that dies with the process), private files under any
umask, the first command after a kill -9 restarting the engine, one key for commands started
together, logout revoking the local key, and an in-memory engine usable by the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import VMX, make_env, serve, stop_process, vmx

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = make_env(tmp_path / "home")
    yield env
    vmx(env, "engine", "stop")


def state(env: dict[str, str]) -> dict[str, object]:
    return json.loads((Path(env["VMX_HOME"]) / "state" / "engine.json").read_text())


ORDER = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit"}
ORDER |= {"quantity": "0.01000", "price": "1000.00"}


def test_a_second_engine_on_a_data_directory_refuses_and_the_first_loses_nothing(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = make_env(tmp_path / "home")
    first, url = serve(env, "--data-dir", str(data_dir))
    try:
        created = vmx(env, "engine", "keys", "create", "--data-dir", str(data_dir), "--json")
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)
        headers = {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}
        placed = httpx.post(url + "/v1/trading/orders", json=ORDER, headers=headers)
        assert placed.status_code == 201, placed.text

        began = time.monotonic()
        second = subprocess.run(
            [*VMX, "engine", "serve", "--port", "0", "--data-dir", str(data_dir)],
            env=make_env(tmp_path / "other-home"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert time.monotonic() - began < 10  # at once, not after a start-up timeout
        assert f"pid {first.pid}" in second.stderr and url in second.stderr
        assert "in use" in second.stderr and "Traceback" not in second.stderr

        started = vmx(
            make_env(tmp_path / "third-home"), "engine", "start", "--data-dir", str(data_dir)
        )
        assert started.returncode == 1
        assert f"pid {first.pid}" in started.stderr and url in started.stderr

        assert first.poll() is None
        listed = httpx.get(url + "/v1/trading/orders", headers=headers)
        assert [o["order_id"] for o in listed.json()["data"]["orders"]] == [
            placed.json()["data"]["order_id"]
        ]
    finally:
        first.kill()  # kill -9: the lock dies with the process
        first.wait()
    again, _ = serve(env, "--data-dir", str(data_dir))
    stop_process(again)
    assert again.returncode == 0


def _modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.lstat().st_mode)
        for path in [root, *root.rglob("*")]
    }


def test_every_file_is_private_even_under_umask_000(tmp_path: Path) -> None:
    root = tmp_path / "home"  # created by vmx itself
    env = make_env(root)
    try:
        assert vmx(env, "config", "set", "output", "json", umask=0).returncode == 0
        first = vmx(env, "order", "list", umask=0)
        assert first.returncode == 0, first.stderr
        modes = _modes(root)
    finally:
        vmx(env, "engine", "stop")
    for name in (
        "config/config.toml",
        "config/credentials/credentials.toml",
        "state/engine.json",
        "state/engine.log",
        "state/engine.lock",
        "state/engine.run.lock",
        "state/provision.lock",
        "data/engine/engine.db",
        "data/engine/engine.db-wal",
        "data/engine/engine.db-shm",
        "data/engine/engine.lock",
    ):
        assert name in modes, sorted(modes)
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    }
    assert loose == {}


def test_an_engine_json_others_may_write_is_not_trusted(home: dict[str, str]) -> None:
    assert vmx(home, "engine", "start").returncode == 0
    path = Path(home["VMX_HOME"]) / "state" / "engine.json"
    path.chmod(0o666)
    try:
        result = vmx(home, "account", "balance")
    finally:
        path.chmod(0o600)  # so the fixture can stop the engine whatever happened
    assert result.returncode == 3
    assert f"chmod 600 {path}" in result.stderr
    assert vmx(home, "account", "balance").returncode == 0


def test_the_first_command_after_a_kill_restarts_the_engine(home: dict[str, str]) -> None:
    placed = vmx(home, "buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", "--json")
    assert placed.returncode == 0, placed.stderr
    order_id = json.loads(placed.stdout)["order_id"]

    first = state(home)
    os.kill(int(str(first["pid"])), signal.SIGKILL)
    balance = vmx(home, "account", "balance", "--json")  # at once: no exit 9
    assert balance.returncode == 0, balance.stderr
    assert json.loads(balance.stdout)["balances"]

    second = state(home)
    assert second["pid"] != first["pid"]
    os.kill(int(str(second["pid"])), signal.SIGKILL)
    status = vmx(home, "engine", "status", "--json")
    assert status.returncode == 1, status.stdout
    assert json.loads(status.stdout) == {"running": False}
    assert "is gone" in status.stderr

    orders = vmx(home, "order", "list", "--json")
    assert orders.returncode == 0, orders.stderr
    assert [o["order_id"] for o in json.loads(orders.stdout)["orders"]] == [order_id]
    after = vmx(home, "engine", "status", "--json")
    assert after.returncode == 0, after.stderr
    record = json.loads(after.stdout)
    assert record["running"] and record["healthy"]
    assert record["pid"] not in (first["pid"], second["pid"])


def test_commands_started_together_provision_one_key_and_logout_revokes_it(
    home: dict[str, str],
) -> None:
    commands = [
        subprocess.Popen(
            [*VMX, "account", "balance", "--json"],
            env=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.communicate(timeout=60), p.returncode) for p in commands]
    assert [code for _, code in results] == [0, 0, 0, 0], [err for (_, err), _ in results]
    keys = json.loads(vmx(home, "engine", "keys", "list", "--json").stdout)["keys"]
    assert len(keys) == 1 and keys[0]["revoked_at"] is None
    provisioned = [err for (_, err), _ in results if "Provisioned an API key" in err]
    assert len(provisioned) == 1
    # One engine was started, and only the command that started it says so.
    starting = [err for (_, err), _ in results if "Starting the local engine" in err]
    assert len(starting) == 1, [err for (_, err), _ in results]

    logout = vmx(home, "auth", "logout")
    assert logout.returncode == 0, logout.stderr
    assert "revoked on the local engine" in logout.stderr
    keys = json.loads(vmx(home, "engine", "keys", "list", "--json").stdout)["keys"]
    assert len(keys) == 1 and keys[0]["revoked_at"] is not None


def test_an_in_memory_engine_works_with_the_cli(tmp_path: Path) -> None:
    env = make_env(tmp_path / "home")
    process, url = serve(env, "--in-memory")
    try:
        balance = vmx(env, "account", "balance", "--json")
        assert balance.returncode == 0, balance.stderr
        assert "Provisioned an API key" in balance.stderr
        keys = vmx(env, "engine", "keys", "list", "--json")
        assert keys.returncode == 0, keys.stderr
        (key,) = json.loads(keys.stdout)["keys"]
        assert key["account"] == "local" and key["revoked_at"] is None
        assert not (Path(env["VMX_HOME"]) / "data" / "engine" / "engine.db").exists()
        status = json.loads(vmx(env, "engine", "status", "--json").stdout)
        assert status["url"] == url and status["data_dir"] is None
    finally:
        stop_process(process)


def test_the_local_key_endpoint_wants_the_token(tmp_path: Path) -> None:
    env = make_env(tmp_path / "home")
    process, url = serve(env, "--in-memory")
    try:
        token = str(state(env)["admin_token"])
        assert len(token) >= 32
        body = {"account": "mallory", "permissions": ["read", "trade"]}
        refused = httpx.post(url + "/v1/local/keys", json=body)
        assert refused.status_code == 401
        wrong = httpx.post(url + "/v1/local/keys", json=body, headers={"X-VMX-Admin-Token": "x"})
        assert wrong.status_code == 401
        made = httpx.post(url + "/v1/local/keys", json=body, headers={"X-VMX-Admin-Token": token})
        assert made.status_code == 201 and made.json()["data"]["api_secret"]
        status = vmx(env, "engine", "status", "--json")
        assert token not in status.stdout + status.stderr
    finally:
        stop_process(process)
