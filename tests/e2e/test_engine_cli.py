"""`vmx engine ...` as real subprocesses with VMX_HOME in a temp dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ENGINE = [sys.executable, "-m", "velocimex_cli.cli.engine"]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["VMX_HOME"] = str(tmp_path / "vmx")
    return env


def vmx_engine(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ENGINE, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_start_status_stop(home: dict[str, str]) -> None:
    assert vmx_engine(home, "status").returncode == 1
    started = vmx_engine(home, "start", "--json", "--always-open")
    assert started.returncode == 0, started.stderr
    status = json.loads(started.stdout)
    try:
        assert status["running"] and status["url"].startswith("http://127.0.0.1:")
        assert status["data_dir"] == str(Path(home["VMX_HOME"]) / "data" / "engine")
        assert httpx.get(status["url"] + "/v1/health").status_code == 200

        again = vmx_engine(home, "start", "--json")
        assert again.returncode == 1
        assert json.loads(again.stdout)["pid"] == status["pid"]
        error = json.loads(again.stderr)["error"]
        assert error["code"] == "ENGINE_RUNNING"
        assert str(status["pid"]) in error["message"] and status["url"] in error["message"]

        shown = vmx_engine(home, "status", "--json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["pid"] == status["pid"]
        assert json.loads(shown.stdout)["healthy"] is True

        elsewhere = vmx_engine(home, "start", "--json", "--data-dir", home["VMX_HOME"] + "/x")
        assert elsewhere.returncode == 1
        error = json.loads(elsewhere.stderr)["error"]
        assert error["code"] == "ENGINE_RUNNING" and str(status["pid"]) in error["message"]

        key = json.loads(vmx_engine(home, "keys", "create", "--json", "--account", "dora").stdout)
        assert set(key) == {"api_key", "api_secret", "account", "permissions", "expires_at"}
        headers = {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}
        balance = httpx.get(status["url"] + "/v1/account/balance", headers=headers)
        assert balance.status_code == 200, balance.text

        logs = vmx_engine(home, "logs")
        assert "listening on " + status["url"] in logs.stdout
    finally:
        stopped = vmx_engine(home, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    assert vmx_engine(home, "status").returncode == 1
    through_vmx = subprocess.run(
        [sys.executable, "-m", "velocimex_cli", "engine", "status"],
        env=home,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert through_vmx.returncode == 1 and "not running" in through_vmx.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(status["url"] + "/v1/health", timeout=1)


def test_stale_state_file_is_cleaned(home: dict[str, str]) -> None:
    state = Path(home["VMX_HOME"]) / "state" / "engine.json"
    state.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state.write_text(
        json.dumps(
            {
                "url": "http://127.0.0.1:9",
                "pid": dead.pid,
                "data_dir": None,
                "started_at": "2026-01-01T00:00:00.000000Z",
                "log_file": "x",
            }
        )
    )
    result = vmx_engine(home, "status")
    assert result.returncode == 1 and "not running" in result.stderr
    assert not state.exists()


def test_keys_create_list_revoke_offline(home: dict[str, str], tmp_path: Path) -> None:
    data_dir = str(tmp_path / "d")
    created = vmx_engine(
        home,
        "keys",
        "create",
        "--data-dir",
        data_dir,
        "--permissions",
        "read",
        "--ip",
        "10.0.0.0/8",
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[1]
    secret = created.stdout.split()[3]
    listed = vmx_engine(home, "keys", "list", "--data-dir", data_dir, "--json")
    (entry,) = json.loads(listed.stdout)["keys"]
    assert entry["api_key"] == key and entry["permissions"] == ["read"]
    assert entry["ip_allow"] == ["10.0.0.0/8"]
    assert secret not in listed.stdout
    assert secret not in vmx_engine(home, "keys", "list", "--data-dir", data_dir).stdout
    assert vmx_engine(home, "keys", "revoke", key, "--data-dir", data_dir).returncode == 0
    listed = json.loads(vmx_engine(home, "keys", "list", "--data-dir", data_dir, "--json").stdout)
    assert listed["keys"][0]["revoked_at"] is not None
    assert vmx_engine(home, "keys", "revoke", "vmxk_none", "--data-dir", data_dir).returncode == 7
    bad = vmx_engine(home, "keys", "create", "--data-dir", data_dir, "--permissions", "admin")
    assert bad.returncode == 2 and "admin" in bad.stderr


def test_serve_prints_url_and_stops_gracefully_on_sigterm(
    home: dict[str, str], tmp_path: Path
) -> None:
    from velocimex_cli.engine.core.exchange import EngineConfig
    from velocimex_cli.engine.keys import KeyStore
    from velocimex_cli.engine.store import open_exchange

    data_dir = tmp_path / "d"
    store = KeyStore.open(data_dir)
    key = store.create("erin")
    store.close()
    headers = {"X-API-Key": key.api_key, "X-API-Secret": key.api_secret}
    process = subprocess.Popen(
        [*ENGINE, "serve", "--port", "0", "--data-dir", str(data_dir), "--no-simulate"],
        env=home,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = ""
        deadline = time.monotonic() + 20
        while "listening on" not in line:
            assert time.monotonic() < deadline
            line = process.stderr.readline()
        url = line.split("listening on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert httpx.get(url + "/v1/health").status_code == 200
        order = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit"}
        order |= {"quantity": "0.01000", "price": "1000.00"}
        placed = httpx.post(url + "/v1/trading/orders", json=order, headers=headers)
        assert placed.status_code == 201, placed.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        rest = process.stderr.read()
        assert "vmx engine stopped" in rest and "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Everything acknowledged is durable: the data directory has the open order.
    exchange = open_exchange(data_dir, EngineConfig(always_open=True), lambda: datetime.now(UTC))
    try:
        orders = exchange.list_orders("erin")
    finally:
        exchange.close()
    assert [o["order_id"] for o in orders] == [placed.json()["data"]["order_id"]]


def test_two_simultaneous_starts_share_one_engine(home: dict[str, str]) -> None:
    starts = [
        subprocess.Popen([*ENGINE, "start", "--json"], env=home, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [json.loads(p.communicate(timeout=30)[0]) for p in starts]
        assert outputs[0]["pid"] == outputs[1]["pid"]
        follow = subprocess.Popen(
            [*ENGINE, "logs", "-f", "-n", "5"], env=home, stdout=subprocess.PIPE, text=True
        )
        try:
            assert follow.stdout is not None
            assert "listening on" in follow.stdout.readline()
        finally:
            follow.terminate()
            follow.wait(timeout=10)
    finally:
        vmx_engine(home, "stop")


def test_serve_on_a_busy_port_says_so(home: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = vmx_engine(home, "serve", "--port", str(port), "--in-memory")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_engine_commands_follow_the_common_pattern(home: dict[str, str], tmp_path: Path) -> None:
    data_dir = str(tmp_path / "d")
    bad = vmx_engine(home, "keys", "create", "--data-dir", data_dir, "--permissions", "x", "--json")
    assert bad.returncode == 2
    error = json.loads(bad.stderr)["error"]  # --json errors are the API's error JSON
    assert error["code"] == "INVALID_PARAMETER" and error["details"]["parameter"] == "permissions"
    assert vmx_engine(home, "keys", "create", "--data-dir", data_dir).returncode == 0
    table = vmx_engine(home, "keys", "list", "--data-dir", data_dir)
    header = [word for word in table.stdout.splitlines()[0].split() if word.isidentifier()]
    assert header[:3] == ["api_key", "account", "name"] and "state" in header
    assert "active" in table.stdout
    csv = vmx_engine(home, "keys", "list", "--data-dir", data_dir, "-o", "csv")
    assert csv.stdout.splitlines()[0].startswith("api_key,account,name,permissions")
    assert vmx_engine(home, "logs", "-n", "-1").returncode == 2
    assert vmx_engine(home, "stop", "--timeout", "-1").returncode == 2
    helped = vmx_engine(home, "--help")
    assert helped.returncode == 0 and "╭" not in helped.stdout and "keys" in helped.stdout
    down = vmx_engine(home, "status")
    assert down.returncode == 1 and down.stdout == "" and "not running" in down.stderr
