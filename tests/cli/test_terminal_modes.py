"""Every data command, on a terminal and off it: exit 0, data on stdout, nothing cut."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Harness
from tests.table_headers import cut_headers_of

COMMANDS = [
    ("markets", "status"),
    ("markets", "list"),
    ("book", "BINANCE", "BTC/USDT"),
    ("ticker", "BINANCE", "BTC/USDT", "ETH/USDT"),
    ("order", "list", "--status", "all"),
    ("order", "show", "{order_id}"),
    ("order", "fills"),
    ("account", "balance"),
    ("account", "positions"),
    ("strategy", "list"),
    ("auth", "status"),
    ("config", "list"),
]


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
def test_every_data_command_prints_on_stdout_in_both_modes(vmx: Harness, tty: bool) -> None:
    order = vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1234.50")
    vmx.json("sell", "BINANCE", "BTC/USDT", "0.01")
    for command in COMMANDS:
        args = [part.format(order_id=order["order_id"]) for part in command]
        result = vmx.run(*args, tty=tty, env={"NO_COLOR": "1"})
        assert result.exit_code == 0, (args, result.stderr)
        assert result.stdout.strip(), args
        if args[0] != "auth":  # (auth status masks the key with an ellipsis on purpose)
            assert "…" not in result.stdout, (args, result.stdout)  # nothing shortened
        assert not cut_headers_of(args, result.stdout), (args, result.stdout)
    listed = vmx.run("order", "list", tty=tty, env={"NO_COLOR": "1"})
    assert "1234.50" in listed.stdout and order["order_id"] in listed.stdout
