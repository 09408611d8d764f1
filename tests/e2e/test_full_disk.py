"""A real engine on a real full filesystem: every answer is durable.

A small tmpfs mounted by the test holds the data directory of a real `vmx engine serve`. Once
the disk is full, an order the engine cannot store is answered 503 STORAGE_UNAVAILABLE ("not
placed"), no read shows anything of it, it is not there after a kill -9 and a restart either,
and once space is freed the same engine takes orders again by itself. `vmx` says what happened
and exits 12.
"""

from __future__ import annotations

import contextlib
import errno
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

from tests.processes import make_env, serve, stop_process, vmx

pytestmark = pytest.mark.e2e

DISK_BYTES = 24 * 2**20
BUY = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit"}
BUY |= {"quantity": "0.01000", "price": "1000.00"}
MARKET_BUY = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "market"}
MARKET_BUY |= {"quantity": "0.01000"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A DISK_BYTES tmpfs mounted for this test (skipped where mounting is not permitted)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with one file; returns it (delete it to free the space)."""
    ballast = disk / "ballast"
    chunk = b"\0" * 65536
    with open(ballast, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    small = b"\0" * 512
    # The last partial chunk.
    with open(ballast, "ab", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(small)
    return ballast


def headers_of(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    """A trading key of the account the CLI's local profile uses."""
    made = vmx(
        env, "engine", "keys", "create", "--data-dir", str(data_dir), "--account", "local",
        "--name", "test", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    return {"X-API-Key": key["api_key"], "X-API-Secret": key["api_secret"]}


def account_view(url: str, headers: dict[str, str]) -> dict[str, Any]:
    def data(path: str) -> Any:
        answer = httpx.get(url + path, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    return {
        "orders": data("/v1/trading/orders?status=all&limit=1000")["orders"],
        "fills": data("/v1/trading/fills?limit=1000")["fills"],
        "balances": data("/v1/account/balance")["balances"],
    }


def test_a_full_disk_answers_not_done_shows_nothing_of_it_and_recovers_by_itself(
    tmp_path: Path, small_disk: Path
) -> None:
    env = make_env(tmp_path / "home")
    data_dir = small_disk / "engine"
    process, url = serve(env, "--data-dir", str(data_dir), "--no-rate-limit")
    try:
        headers = headers_of(env, data_dir)
        provisioned = vmx(env, "account", "balance")  # the CLI's own key, while there is room
        assert provisioned.returncode == 0, provisioned.stderr
        placed = httpx.post(url + "/v1/trading/orders", json=BUY, headers=headers, timeout=10)
        assert placed.status_code == 201, placed.text
        stored_ids = [placed.json()["data"]["order_id"]]

        ballast = fill(small_disk)
        # Commits reuse the log's room for a while: go on until one cannot be stored.
        refused: list[dict[str, Any]] = []
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for number in range(3000):
                request = MARKET_BUY if number % 2 else BUY
                time.sleep(0.012)  # under the account's 100 orders a second
                answer = client.post("/v1/trading/orders", json=request)
                if answer.status_code == 201:
                    stored_ids.append(answer.json()["data"]["order_id"])
                    continue
                assert answer.status_code == 503, answer.text
                refused.append(answer.json()["error"])
                if len(refused) == 3:
                    break
        assert len(refused) == 3, "the disk never filled up"
        for error in refused:
            assert error["code"] == "STORAGE_UNAVAILABLE"
            assert error["message"].startswith("not placed: the engine could not store it")
            assert error["details"]["executed"] is False

        seen = account_view(url, headers)
        assert sorted(o["order_id"] for o in seen["orders"]) == sorted(stored_ids)

        # The CLI says what happened and exits 12; its retries never place the order.
        cli = vmx(env, "buy", "BINANCE", "BTC/USDT", "0.01", "--yes")
        assert cli.returncode == 12, cli.stderr
        assert "not placed: the engine could not store it; nothing was executed" in cli.stderr
        assert "try again" not in cli.stderr
        assert account_view(url, headers) == seen

        ballast.unlink()  # space comes back: the same engine stores again by itself
        deadline = time.monotonic() + 20
        while True:
            again = httpx.post(url + "/v1/trading/orders", json=BUY, headers=headers)
            if again.status_code == 201:
                break
            assert again.status_code == 503, again.text
            assert time.monotonic() < deadline, "the engine did not store again"
            time.sleep(0.2)
        stored_ids.append(again.json()["data"]["order_id"])
        bought = vmx(env, "buy", "BINANCE", "BTC/USDT", "0.01", "--yes", "--json")
        assert bought.returncode == 0, bought.stderr
        stored_ids.append(json.loads(bought.stdout)["order_id"])
        before_kill = account_view(url, headers)
        assert sorted(o["order_id"] for o in before_kill["orders"]) == sorted(stored_ids)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        log = process.stderr.read() if process.stderr is not None else ""
    assert "Traceback" not in log
    assert log.count("cannot store the engine's changes") == 1, log
    assert log.count("stores its changes again") == 1, log

    again_process, again_url = serve(env, "--data-dir", str(data_dir), "--no-rate-limit")
    try:
        after = account_view(again_url, headers)
        assert sorted(o["order_id"] for o in after["orders"]) == sorted(stored_ids)
        assert after["fills"] == before_kill["fills"]
        assert after["balances"] == before_kill["balances"]
    finally:
        stop_process(again_process)
