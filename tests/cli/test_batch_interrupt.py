"""Ctrl-C in the middle of a paced batch: a real `vmx` subprocess against a real loopback
server with a small rate limit, interrupted with SIGINT. The summary still comes, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.api.conftest import LiveServer, settings
from tests.processes import VMX
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.api.settings import utc_now
from velocimex_cli.wire import jsonfmt

LINES = 20


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[LiveServer, str, str]]:
    """Two requests per second: a 20-line batch takes ~10 s unless interrupted."""
    app = create_app(
        settings(rest_limit_per_minute=2, rest_window_seconds=1.0, clock=utc_now, simulate=True,
                 simulate_interval_seconds=3600.0)
    )  # fmt: skip
    with LiveServer(app) as server:
        created = app.state.runtime.keys.create("alice", "batch", ("read", "trade"))
        yield server, created.api_key, created.api_secret


def test_sigint_mid_batch_prints_the_summary_and_exits_130(
    slow_server: tuple[LiveServer, str, str], tmp_path: Path
) -> None:
    server, key, secret = slow_server
    batch = tmp_path / "orders.ndjson"
    batch.write_text(
        "".join(
            jsonfmt.dumps({"exchange": "BINANCE", "symbol": "ETH/USDT", "side": "buy",
                           "type": "limit", "quantity": "0.01", "price": str(1000 + i)}) + "\n"
            for i in range(LINES)
        )
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMX_")}
    env.update(VMX_HOME=str(tmp_path / "home"), VMX_API_URL=server.url, VMX_API_KEY=key,
               VMX_API_SECRET=secret)  # fmt: skip
    process = subprocess.Popen(
        [*VMX, "order", "place", "--file", str(batch), "--yes", "-o", "ndjson"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: SIGINT at its default, whatever the test runner's is.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watchdog = threading.Timer(30, process.kill)  # a hung vmx fails the test, not the suite
    watchdog.start()
    try:
        assert process.stdout is not None
        seen = [process.stdout.readline() for _ in range(3)]  # three orders placed
        assert all('"order"' in line for line in seen), seen
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    printed = seen + rest.splitlines()
    placed = sum('"order"' in line for line in printed)
    summary = stderr.strip().splitlines()[-1]
    assert summary.startswith(f"interrupted: {placed} placed, "), stderr
    not_sent = int(summary.split(", ")[-1].split(" not sent")[0])
    unknown = 1 if "1 unknown" in summary else 0
    assert placed + unknown + not_sent == LINES and not_sent > 0
    assert "Traceback" not in stderr
