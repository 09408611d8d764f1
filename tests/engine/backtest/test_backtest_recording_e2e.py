"""A live recording made by `vmx stream market --record` is what `vmx backtest --data` replays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Engine, vmx

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    engine = Engine(tmp_path_factory.mktemp("vmx-record"))
    engine.start()
    try:
        yield engine.client_env()
    finally:
        engine.stop()


def test_a_recorded_stream_backtests_deterministically(env: dict[str, str], tmp_path: Path) -> None:
    recording = tmp_path / "btc.ndjson"
    recorded = vmx(
        env, "stream", "market", "BINANCE:BTC/USDT", "--channel", "book", "--channel", "trades",
        "--duration", "4", "--record", str(recording),
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    kinds = {json.loads(line)["msg"]["type"] for line in recording.read_text().splitlines()[1:]}
    assert {"book_snapshot", "book_delta"} <= kinds

    args = ("backtest", "market-maker", "--data", str(recording), "--json")
    first = vmx(env, *args)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["options"]["symbol"] == "BTC/USDT"  # from the recording's header
    assert report["period"]["events"] > 1
    assert report["strategy_state"] != "failed", report["strategy_error"]
    assert "spread_captured" in report["metrics"]
    again = vmx(env, *args)
    assert again.stdout == first.stdout
