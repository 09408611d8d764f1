"""A mirrored exchange replaces the simulated one: the simulator never trades it. ccxt is
imported only by an engine that mirrors, and its absence is said at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.engine.api.conftest import auth_headers, settings
from tests.engine.drivers.venues.scripted_venue import D, Mirrored, ScriptedSource, snapshot
from velocimex_cli.engine.api.app import create_app


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_simulator_never_trades_a_mirrored_exchange(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    app = create_app(settings(data_dir=data_dir))
    with TestClient(app) as client:  # simulated first: its maker quotes BINANCE BTC/USDT
        headers = auth_headers(app.state.runtime.keys)
        book = client.get("/v1/markets/BINANCE/orderbook/BTC/USDT", headers=headers).json()
        assert book["data"]["bids"] and book["data"]["asks"]
    source = ScriptedSource()
    # The simulator steps on the engine's own loop, every 5 ms.
    with Mirrored(source, data_dir, simulate=True, simulate_interval_seconds=0.005) as engine:
        simulator = engine.runtime.node.simulator
        start = simulator.steps
        assert engine.book() == {"bids": [], "asks": []}  # the simulated quotes went
        wait_steps(simulator, start + 100)
        assert engine.book() == {"bids": [], "asks": []}
        ticker = engine.get("/v1/markets/BINANCE/ticker/BTC/USDT")
        assert D(str(ticker["volume"])) == 0
        aapl = engine.get("/v1/markets/NASDAQ/orderbook/AAPL")
        assert aapl["bids"] and aapl["asks"]  # the simulated exchanges trade on
        engine.wait_loaded()
        source.push(snapshot([("100.00", "1")], [("100.01", "1")]))
        wait_steps(simulator, simulator.steps + 50)
        assert engine.book() == {"bids": [(D("100.00"), D(1))], "asks": [(D("100.01"), D(1))]}


def wait_steps(simulator: Any, steps: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while simulator.steps < steps:
        assert time.monotonic() < deadline, "the simulator did not step"
        time.sleep(0.01)


def test_an_engine_without_mirrors_never_imports_ccxt() -> None:
    result = run_python(
        """
        import asyncio, sys
        from velocimex_cli.engine.api.app import create_app
        from velocimex_cli.engine.api.settings import ServerSettings
        from velocimex_cli.engine.node import EngineNode, NodeSettings

        async def main():
            node = EngineNode(NodeSettings(simulate=False), ServerSettings().clock)
            node.start()
            await node.stop()

        create_app(ServerSettings(simulate=False))
        asyncio.run(main())
        print(sorted(name for name in sys.modules if name.split(".")[0] == "ccxt"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_mirrors_without_ccxt_refuse_to_start_naming_the_extra() -> None:
    result = run_python(
        """
        import sys
        sys.modules["ccxt"] = None  # as if it were not installed
        from velocimex_cli.engine.api.settings import ServerSettings
        from velocimex_cli.engine.drivers.venues.spec import MirrorSpecError, parse_mirrors
        from velocimex_cli.engine.node import EngineNode, NodeSettings

        mirrors = parse_mirrors(["binance:BTC/USDT"])
        node = EngineNode(NodeSettings(mirrors=mirrors, simulate=False), ServerSettings().clock)
        try:
            node.start()
        except MirrorSpecError as exc:
            print(exc)
        else:
            print("started")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'velocimex-cli[live]'" in result.stdout
    assert "started" not in result.stdout
