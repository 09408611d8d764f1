"""A reader that goes away (`vmx ... | head -1`, a closed pipe): vmx ends quietly with exit 1,
no traceback, whether the output was a Rich table or plain JSON. A real `vmx` subprocess whose
stdout pipe is closed before it writes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.engine.backtest.conftest import write_trades
from tests.processes import VMX


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["table", "json"])
def test_a_closed_stdout_ends_quietly(tmp_path: Path, extra: list[str]) -> None:
    rows = [(s, 60000 + (s % 7) * 5, "0.01", "buy" if s % 2 else "sell") for s in range(400)]
    trades = write_trades(tmp_path / "trades.csv", rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env["VMX_HOME"] = str(tmp_path / "home")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before vmx writes a byte
    try:
        done = subprocess.run(
            [*VMX, "backtest", "sma-cross", "--data", str(trades), "-e", "BINANCE",
             "-s", "BTC/USDT", "--param", "fast=3", "--param", "slow=8", *extra],
            stdout=write, stderr=subprocess.PIPE, env=env, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
