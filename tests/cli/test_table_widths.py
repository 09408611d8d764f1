"""Every table command on an 80- and a 120-column terminal: nothing wider than the screen,
nothing cut (no cell with an ellipsis, every header cell a whole column name), and what each
table is for stays (ids, names and kinds of strategies; where a deployment runs, its state,
orders, fills and error; a position's average price)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cli.conftest import Harness
from tests.table_headers import cut_headers_of
from velocimex_cli.wire import jsonfmt

WIDTHS = (80, 120)

DEPLOYMENT = {
    "deployment_id": "dep-7f3a9c2e41", "strategy_id": "market-maker", "exchange": "BINANCE",
    "symbol": "BTC/USDT", "state": "failed", "orders": 1234, "fills": 567, "open_orders": 0,
    "realized_pnl": "-12.34567890 USDT", "unrealized_pnl": "0.00000000 USDT",
    "fees": "1.23456789 USDT",
    "last_error": "on_book: OrderNotOpen: Order 65876 is filled and cannot be canceled",
}  # fmt: skip


def deployments_api(request: httpx.Request) -> httpx.Response:
    body = {"status": "ok", "data": {"deployments": [DEPLOYMENT]}}
    return httpx.Response(200, text=jsonfmt.dumps(body), headers={"content-type": "json"})


def screen(vmx: Harness, width: int, *args: str, transport: Any = None) -> str:
    result = vmx.run(
        *args, tty=True, env={"COLUMNS": str(width), "NO_COLOR": "1"}, transport=transport
    )
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines, args
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, (args, width, too_wide)
    assert "…" not in result.stdout, (args, width, result.stdout)  # nothing is cut
    assert not cut_headers_of(args, result.stdout), (args, width, result.stdout)  # not silently
    return result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_command_fits_and_keeps_what_it_is_for(vmx: Harness, width: int) -> None:
    vmx.json("buy", "BINANCE", "BTC/USDT", "0.01")
    vmx.json("buy", "BINANCE", "ETH/USDT", "0.1", "--price", "100")

    strategies = screen(vmx, width, "strategy", "list")
    for must in ("strategy_id", "name", "kind", "market-maker", "Pure market making", "builtin"):
        assert must in strategies, (width, strategies)

    positions = screen(vmx, width, "account", "positions")
    assert "average_price" in positions and "BTC/USDT" in positions

    status = screen(
        vmx, width, "strategy", "status", transport=httpx.MockTransport(deployments_api)
    )
    words = " ".join(status.split())
    for must in ("exchange", "symbol", "state", "orders", "fills", "last_error", "BINANCE",
                 "BTC/USDT", "failed", "1234", "567", "dep-7f3a9c2e41"):  # fmt: skip
        assert must in status, (width, status)
    # The error wraps instead of going: every word of it is on the screen.
    for word in DEPLOYMENT["last_error"].split():
        assert word in words or any(word.startswith(part) for part in words.split()), word

    for args in (
        ("markets", "list"), ("markets", "status"), ("ticker", "BINANCE", "BTC/USDT"),
        ("book", "BINANCE", "BTC/USDT"), ("order", "list", "--status", "all"),
        ("order", "fills"), ("account", "balance"), ("account", "limits"),
        ("strategy", "show", "market-maker"),
    ):  # fmt: skip
        screen(vmx, width, *args)


def test_a_wide_terminal_shows_the_columns_a_narrow_one_drops(vmx: Harness) -> None:
    narrow = screen(vmx, 80, "strategy", "status", transport=httpx.MockTransport(deployments_api))
    wide = vmx.run(
        "strategy", "status", tty=True, env={"COLUMNS": "250", "NO_COLOR": "1"},
        transport=httpx.MockTransport(deployments_api),
    )  # fmt: skip
    assert "realized_pnl" in wide.stdout and "realized_pnl" not in narrow
    assert "on_book: OrderNotOpen: Order 65876 is filled and cannot be canceled" in wide.stdout
