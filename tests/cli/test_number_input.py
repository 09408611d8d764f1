"""The command line reads numbers as strictly as the API: no `_` separators, ASCII digits only
(Python's int() and Decimal() take both, so `1_000` or a look-alike digit would silently become
a different value)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Harness


@pytest.mark.parametrize("depth", ["1_0", "١٠", "１０"])
def test_integer_options_refuse_separators_and_non_ascii_digits(vmx: Harness, depth: str) -> None:
    result = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", depth)
    assert result.exit_code == 2, result.stdout
    assert "is not a valid integer" in result.stderr
    assert vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "10").exit_code == 0


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (("buy", "BINANCE", "BTC/USDT", "1_000", "--price", "100"), "quantity"),
        (("buy", "BINANCE", "BTC/USDT", "١", "--price", "100"), "quantity"),
        (("buy", "BINANCE", "BTC/USDT", "0.001", "--price", "1_000"), "price"),
    ],
)
def test_order_numbers_refuse_separators_and_non_ascii_digits(
    vmx: Harness, args: tuple[str, ...], parameter: str
) -> None:
    result = vmx.run(*args, "--yes")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert f"parameter={parameter}" in result.stderr
    assert vmx.json("order", "list", "--status", "all")["orders"] == []
