"""`vmx stream`, `vmx order watch` and `vmx replay` as real subprocesses against a real engine.

The engine is `vmx engine serve` in a subprocess on a loopback port, with a key made by
`vmx engine keys create`; the CLI reaches it through VMX_API_URL/KEY/SECRET. The reconnect test
kills the engine (SIGKILL) and starts it again on the same port.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import VMX, Engine, Reader, vmx

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    running = Engine(tmp_path_factory.mktemp("vmx-stream"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def env(engine: Engine) -> dict[str, str]:
    return engine.client_env()


def place(env: dict[str, str], price: str = "50000.00") -> dict[str, Any]:
    order = {
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": price,
    }
    headers = {"X-API-Key": env["VMX_API_KEY"], "X-API-Secret": env["VMX_API_SECRET"]}
    response = httpx.post(f"{env['VMX_API_URL']}/v1/trading/orders", json=order, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_stream_market_into_head_exits_0_quietly(env: dict[str, str]) -> None:
    pipeline = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" | head -5', "sh", *VMX, "stream", "market"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pipeline.returncode == 0, pipeline.stderr
    lines = pipeline.stdout.splitlines()
    assert len(lines) == 5
    assert all(json.loads(line)["type"] == "ticker" for line in lines)  # the default feed
    assert pipeline.stderr == ""


def test_stream_market_book_channel_count_and_lines_are_flushed(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [*VMX, "stream", "market", "BINANCE:BTC-USDT", "--channel", "book"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = json.loads(process.stdout.readline())  # arrives without waiting for more
        assert first["type"] == "book_snapshot" and first["symbol"] == "BTC/USDT"
        assert isinstance(first["checksum"], int) and first["bids"] and first["asks"]
    finally:
        process.kill()
        process.wait()
    counted = vmx(env, "stream", "market", "BINANCE:BTC/USDT", "-c", "book", "--count", "3")
    assert counted.returncode == 0, counted.stderr
    kinds = [json.loads(line)["type"] for line in counted.stdout.splitlines()]
    assert kinds[0] == "book_snapshot" and len(kinds) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOPE:BTC/USDT"], "Unknown exchange 'NOPE'"),
        (["BTCUSDT"], "is not EXCHANGE:SYMBOL"),
        (["BINANCE:BTC/USDT", "--channel", "candles"], "is not a channel"),
        (["--count", "0"], "--count must be at least 1"),
        (["--duration", "-1"], "--duration must be"),
    ],
)
def test_stream_market_bad_input_is_a_usage_error(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = vmx(env, "stream", "market", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr


def wait_live(recording: Path, limit: float = 30) -> None:
    """Until the recording says the stream is live (updates before that are not streamed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if recording.exists() and '"state": "live"' in recording.read_text():
            return
        time.sleep(0.05)
    raise AssertionError("the stream did not get live")


def test_stream_orders_prints_the_accounts_updates(env: dict[str, str], tmp_path: Path) -> None:
    recording = tmp_path / "orders.ndjson"
    process = subprocess.Popen(
        [*VMX, "stream", "orders", "--count", "1", "--record", str(recording)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_live(recording)
    placed = place(env, "50001.00")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    update = json.loads(out)
    assert update["type"] == "order" and update["order_id"] == placed["order_id"]
    assert update["event"] == "accepted" and update["order_type"] == "limit"


def test_record_then_replay_max_is_byte_identical_and_equals_the_live_output(
    env: dict[str, str], tmp_path: Path
) -> None:
    recording = tmp_path / "feed.ndjson"
    live = vmx(
        env, "stream", "market", "BINANCE:BTC/USDT", "--duration", "2", "--record", str(recording)
    )
    assert live.returncode == 0, live.stderr
    lines = recording.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "vmx-recording" and header["version"] == 1
    assert header["instruments"] == ["BINANCE:BTC/USDT"] and header["stream"] == "market"
    assert header["started_at"].endswith("Z") and header["vmx_version"]
    entries = [json.loads(line) for line in lines[1:]]
    kinds = {entry["msg"]["type"] for entry in entries}
    assert {"connection", "subscribed", "book_snapshot", "ticker"} <= kinds
    times = [entry["t"] for entry in entries]
    assert times == sorted(times)
    assert "received_at" not in lines[1]
    assert env["VMX_API_SECRET"] not in recording.read_text()

    first = vmx(env, "replay", str(recording), "--speed", "max")
    second = vmx(env, "replay", str(recording), "--speed", "max")
    assert first.returncode == second.returncode == 0, first.stderr
    assert (
        hashlib.sha256(first.stdout.encode()).digest()
        == hashlib.sha256(second.stdout.encode()).digest()
    )
    assert first.stdout == live.stdout  # the recording replays what was printed live
    assert len(first.stdout.splitlines()) >= 2

    paced = vmx(env, "replay", str(recording), "--speed", "100", "--count", "2")
    assert paced.returncode == 0 and paced.stdout.splitlines() == live.stdout.splitlines()[:2]


def test_stream_and_order_watch_survive_an_engine_restart(
    tmp_path: Path,
) -> None:
    engine = Engine(tmp_path)
    engine.start()
    try:
        env = engine.client_env()
        market = subprocess.Popen(
            [*VMX, "stream", "market", "BINANCE:BTC/USDT", "--channel", "book"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        recording = tmp_path / "orders.ndjson"
        orders = subprocess.Popen(
            [*VMX, "order", "watch", "--record", str(recording)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        market_out, orders_out = Reader(market), Reader(orders)
        try:
            market_out.wait_for(lambda: market_out.lines)
            wait_live(recording)
            place(env, "50002.00")
            orders_out.wait_for(lambda: orders_out.lines)

            engine.kill()
            for reader in (market_out, orders_out):
                reader.wait_for(lambda r=reader: "reconnecting" in "".join(r.err))
            snapshots_before = sum('"book_snapshot"' in line for line in market_out.lines)
            engine.start()  # same port, same data
            for reader in (market_out, orders_out):
                reader.wait_for(lambda r=reader: "live again" in "".join(r.err))
            assert "vmx order list --status all" in "".join(orders_out.err)
            market_out.wait_for(
                lambda: (
                    sum('"book_snapshot"' in line for line in market_out.lines) > snapshots_before
                )
            )
            seen = len(orders_out.lines)
            placed = place(env, "50003.00")
            orders_out.wait_for(lambda: len(orders_out.lines) > seen)
            update = json.loads(orders_out.lines[-1])
            assert update["order_id"] == placed["order_id"]
            assert market.poll() is None and orders.poll() is None  # still streaming
        finally:
            for process in (market, orders):
                process.send_signal(signal.SIGINT)
            for process in (market, orders):
                process.wait(15)
        assert market.returncode == 0 and orders.returncode == 0
        for reader in (market_out, orders_out):
            text = "".join(reader.err)
            assert "Traceback" not in text
            assert "connection" in text or "refused" in text
    finally:
        engine.stop()


def test_a_stream_that_never_connects_is_exit_9(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.update(
        VMX_HOME=str(tmp_path / "home"),
        VMX_API_URL=f"http://127.0.0.1:{port}",
        VMX_API_KEY="vmxk_x",
        VMX_API_SECRET="not-shown",
    )
    result = vmx(env, "stream", "market", "BINANCE:BTC/USDT")
    assert result.returncode == 9, result.stderr
    assert "reconnecting in" in result.stderr  # it tried, and said so
    assert f"cannot reach the API at http://127.0.0.1:{port}" in result.stderr
    assert "not-shown" not in result.stderr + result.stdout
