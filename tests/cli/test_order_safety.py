"""Client-side validation, confirmation, --dry-run and batches: nothing is sent by mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Harness
from velocimex_cli.wire import jsonfmt


def open_orders(vmx: Harness) -> list[dict]:
    return vmx.json("order", "list", "--status", "all")["orders"]


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (("buy", "BINANCE", "BTC/USDT", "-1", "--price", "100"), "quantity"),
        (("buy", "BINANCE", "BTC/USDT", "-0.5"), "quantity"),
        (("sell", "BINANCE", "BTC/USDT", "0", "--price", "100"), "quantity"),
        (("buy", "BINANCE", "BTC/USDT", "abc", "--price", "100"), "quantity"),
        (("buy", "BINANCE", "BTC/USDT", "1", "--price", "-100"), "price"),
        (("buy", "BINANCE", "BTC/USDT", "1", "--price", "ten"), "price"),
        (("order", "place", "BINANCE", "BTC/USDT", "hold", "1"), "side"),
        (("order", "place", "BINANCE", "BTC/USDT", "buy", "1", "--tif", "day"), "time_in_force"),
        (("buy", "BINANCE", "BTC/USDT", "1", "--type", "limit"), "price"),
    ],
)
def test_bad_orders_fail_before_any_request_naming_the_parameter(
    vmx: Harness, args: tuple[str, ...], parameter: str
) -> None:
    result = vmx.run(*args)
    assert result.exit_code == 2, result.stderr
    assert f"parameter={parameter}" in result.stderr
    assert "No such option" not in result.stderr
    as_json = vmx.run(*args, "--json")
    body = jsonfmt.loads(as_json.stderr)
    assert body["error"]["code"] == "INVALID_PARAMETER"
    assert body["error"]["details"]["parameter"] == parameter
    assert open_orders(vmx) == []


def test_negative_quantity_is_rejected_as_a_quantity_even_with_trailing_options(
    vmx: Harness,
) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "-1", "--price", "100", "--yes")
    assert result.exit_code == 2
    assert "quantity must be greater than zero" in result.stderr
    unknown = vmx.run("buy", "BINANCE", "BTC/USDT", "1", "--bogus")
    assert unknown.exit_code == 2 and "No such option" in unknown.stderr


def test_above_threshold_without_a_terminal_fails_asking_for_yes(vmx: Harness) -> None:
    args = ("buy", "BINANCE", "BTC/USDT", "1", "--price", "20000")  # notional 20000 > 10000
    result = vmx.run(*args, tty=False)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert open_orders(vmx) == []
    assert vmx.run(*args, "--yes").exit_code == 0
    assert len(open_orders(vmx)) == 1


def test_below_threshold_places_without_asking(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", tty=False)
    assert result.exit_code == 0, result.stderr
    assert "[y/N]" not in result.stderr


def test_on_a_terminal_it_shows_the_order_and_asks(vmx: Harness) -> None:
    args = ("buy", "BINANCE", "BTC/USDT", "1", "--price", "20000")
    declined = vmx.run(*args, tty=True, input="n\n", env={"NO_COLOR": "1"})
    assert declined.exit_code == 1
    assert "buy 1 BTC/USDT @ 20000 on BINANCE" in declined.stderr
    assert "notional ≈ 20000 USDT" in declined.stderr and "[y/N]" in declined.stderr
    assert open_orders(vmx) == []
    accepted = vmx.run(*args, tty=True, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert len(open_orders(vmx)) == 1


def test_threshold_is_configurable(vmx: Harness) -> None:
    assert vmx.run("config", "set", "confirm_notional", "50000").exit_code == 0
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "1", "--price", "20000")
    assert result.exit_code == 0, result.stderr


def test_market_order_notional_is_estimated_from_the_book(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "1")  # ~60000 USDT
    assert result.exit_code == 2 and "above the confirmation threshold" in result.stderr
    assert open_orders(vmx) == []


def test_dry_run_validates_prints_and_sends_nothing(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "btc-usdt", "0.5", "--price", "100.50", "--dry-run")
    assert result.exit_code == 0, result.stderr
    answer = jsonfmt.loads(vmx.run(*ORDER_ARGS, "--dry-run", "--json").stdout)
    order = answer["order"]
    assert order["symbol"] == "BTC/USDT" and order["type"] == "limit"
    assert order["order_id"] is None and order["client_order_id"].startswith("vmx-")
    assert str(order["price"]) == "100.50"
    assert "Nothing was sent" in result.stderr
    assert open_orders(vmx) == []
    bad = vmx.run("buy", "BINANCE", "BTC/USDT", "-2", "--dry-run")
    assert bad.exit_code == 2


ORDER_ARGS = ("buy", "BINANCE", "btc-usdt", "0.5", "--price", "100.50")


def write_batch(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = '{"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": 0.01, "price": 1000}'  # noqa: E501


def test_batch_reports_each_line_and_bad_lines_by_number(vmx: Harness, tmp_path: Path) -> None:
    path = write_batch(
        tmp_path,
        [
            GOOD,
            "{not json",
            GOOD.replace("0.01", "-3"),
            "",
            GOOD.replace('"buy"', '"sell"').replace("1000", "900000"),
        ],
    )
    result = vmx.run("order", "place", "--file", str(path), "--json", "--yes")
    assert result.exit_code == 2, result.stderr
    lines = [jsonfmt.loads(line) for line in result.stdout.splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 5]
    assert lines[0]["order"]["status"] == "open"
    assert lines[1]["error"]["code"] == "INVALID_PARAMETER"
    assert lines[2]["error"]["details"]["parameter"] == "quantity"
    assert lines[3]["order"]["side"] == "sell"
    assert "2 placed, 2 failed" in result.stderr
    assert len(open_orders(vmx)) == 2


def test_batch_from_stdin_all_good_exits_zero(vmx: Harness) -> None:
    text = GOOD + "\n" + GOOD.replace("1000", "1001") + "\n"
    result = vmx.run("order", "place", "--file", "-", input=text)
    assert result.exit_code == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith("line 1: ok order_id=") and out[1].startswith("line 2: ok")


def test_batch_failure_from_the_server_sets_the_exit_code(vmx: Harness) -> None:
    rich = GOOD.replace("0.01", "100")  # notional 100000 > the sandbox's USDT
    result = vmx.run("order", "place", "-f", "-", "--yes", input=GOOD + "\n" + rich + "\n")
    assert result.exit_code == 5
    assert "line 2: error INSUFFICIENT_BALANCE" in result.stdout


def test_batch_above_threshold_without_terminal_needs_yes(vmx: Harness) -> None:
    big = GOOD.replace("0.01", "1").replace("1000", "20000")
    result = vmx.run("order", "place", "-f", "-", input=big + "\n")
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert open_orders(vmx) == []
