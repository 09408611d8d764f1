"""Backtest reports pinned to the bytes they had before the house was restructured (issue 17).

Moving the C core into one file per Python module, driving backtests through the node and
declaring the strategy context once must not move a single order: the same seeded simulation
must give the same report hash. The hashes were measured on main at c12f82a, with the C core
and with VMX_PURE_PYTHON=1 (both gave the same). A behaviour change that is meant must update
them in the same commit and say why.
"""

from __future__ import annotations

import pytest

from tests.engine.backtest.conftest import Vmx
from velocimex_cli.wire import jsonfmt

PINNED = {
    ("sma-cross", "--simulate", "60s", "--seed", "11", "-e", "BINANCE", "-s", "BTC/USDT"): (
        "8398fc1509bccc44768539f3d39b966a5c67d52e50e62a89b42cd7a6ffc72290",
        6,
    ),
    (
        "market-maker",
        "--simulate",
        "120s",
        "--seed",
        "11",
        "-e",
        "BINANCE",
        "-s",
        "BTC/USDT",
        "-p",
        "bid_spread=0.01",
        "-p",
        "ask_spread=0.01",
        "-p",
        "order_refresh_time=2",
    ): ("e44b5bae4d0cd8f3aacdffdf487a1b0bf22a57433b5d0c940119da3ac5d1152c", 166),
}


@pytest.mark.parametrize("args", list(PINNED), ids=lambda args: args[0])
def test_a_seeded_backtest_keeps_its_report_hash(vmx: Vmx, args: tuple[str, ...]) -> None:
    result = vmx.run("backtest", *args, "--json")
    assert result.exit_code == 0, result.stderr
    report = jsonfmt.loads(result.stdout)
    expected_hash, expected_fills = PINNED[args]
    assert report["metrics"]["fills"] == expected_fills
    assert report["report_hash"] == expected_hash
