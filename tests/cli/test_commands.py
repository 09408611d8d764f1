"""Every command through the real `vmx` app against the real engine app, in-process."""

from __future__ import annotations

from decimal import Decimal

from tests.cli.conftest import Harness
from velocimex_cli.wire import jsonfmt


def test_markets_status_and_list_print_the_api_payload(vmx: Harness) -> None:
    status = vmx.json("markets", "status")
    exchanges = {m["exchange"]: m["status"] for m in status["markets"]}
    assert exchanges["BINANCE"] == "open"
    markets = vmx.json("markets", "list", "BINANCE")["markets"]
    assert markets and {m["exchange"] for m in markets} == {"BINANCE"}
    btc = next(m for m in markets if m["symbol"] == "BTC/USDT")
    assert isinstance(btc["tick_size"], Decimal)


def test_markets_list_as_a_table_on_a_terminal_and_off_it(vmx: Harness) -> None:
    for tty in (True, False):
        result = vmx.run("markets", "list", tty=tty)
        assert result.exit_code == 0, result.stderr
        assert "BTC/USDT" in result.stdout and "tick_size" in result.stdout
        assert "\x1b[" not in result.stdout or tty


def test_book_snapshot_respects_depth_and_keeps_the_digits(vmx: Harness) -> None:
    raw = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "3", "--json")
    assert raw.exit_code == 0, raw.stderr
    book = jsonfmt.loads(raw.stdout)
    assert len(book["bids"]) == 3 and len(book["asks"]) == 3
    assert book["bids"][0]["price"] < book["asks"][0]["price"]
    # The number text on stdout is the API's: two decimals for a 0.01 tick.
    assert f'"price": {book["bids"][0]["price"]}' in raw.stdout
    table = vmx.run("book", "binance", "btc-usdt", "--depth", "2")
    assert table.exit_code == 0 and str(book["bids"][0]["price"]) in table.stdout
    rows = vmx.run("book", "BINANCE", "BTC/USDT", "--depth", "2", "-o", "ndjson")
    assert [jsonfmt.loads(line)["side"] for line in rows.stdout.splitlines()] == [
        "ask",
        "ask",
        "bid",
        "bid",
    ]


def test_ticker_for_several_symbols(vmx: Harness) -> None:
    data = vmx.json("ticker", "BINANCE", "BTC/USDT", "ETH/USDT")
    assert [t["symbol"] for t in data["tickers"]] == ["BTC/USDT", "ETH/USDT"]
    single = vmx.json("ticker", "BINANCE", "BTC/USDT")
    assert single["symbol"] == "BTC/USDT" and "bid" in single


def test_place_list_show_fills_cancel_round_trip(vmx: Harness) -> None:
    order = vmx.json("order", "place", "BINANCE", "BTC/USDT", "buy", "0.01", "--price", "1000")
    assert order["status"] == "open" and order["client_order_id"].startswith("vmx-")
    assert str(order["price"]) == "1000.00"
    listed = vmx.json("order", "list")["orders"]
    assert [o["order_id"] for o in listed] == [order["order_id"]]
    shown = vmx.json("order", "show", f"client_order_id:{order['client_order_id']}")
    assert shown["order_id"] == order["order_id"]
    canceled = vmx.json("order", "cancel", order["order_id"])
    assert canceled["status"] == "canceled"
    assert vmx.json("order", "list")["orders"] == []
    assert len(vmx.json("order", "list", "--status", "all")["orders"]) == 1
    taken = vmx.json("sell", "BINANCE", "BTC/USDT", "0.01", "--client-id", "my-sell-1")
    assert taken["client_order_id"] == "my-sell-1" and taken["type"] == "market"
    fills = vmx.json("order", "fills", "--order-id", taken["order_id"])["fills"]
    assert fills and all(f["order_id"] == taken["order_id"] for f in fills)


def test_cancel_all_filters_and_reports(vmx: Harness) -> None:
    for price in ("1000", "1001"):
        vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", price)
    vmx.json("buy", "BINANCE", "ETH/USDT", "0.1", "--price", "100")
    gone = vmx.json("order", "cancel", "--all", "-e", "BINANCE", "--symbol", "BTC/USDT")["orders"]
    assert len(gone) == 2
    assert [o["symbol"] for o in vmx.json("order", "list")["orders"]] == ["ETH/USDT"]
    bad = vmx.run("order", "cancel")
    assert bad.exit_code == 2 and "--all" in bad.stderr


def test_account_balance_and_positions(vmx: Harness) -> None:
    balances = vmx.json("account", "balance")["balances"]
    usdt = next(b for b in balances if b["asset"] == "USDT")
    assert usdt["total"] == usdt["available"] + usdt["locked"]
    vmx.json("buy", "BINANCE", "BTC/USDT", "0.01")
    positions = vmx.json("account", "positions")["positions"]
    assert any(p["symbol"] == "BTC/USDT" for p in positions)
    table = vmx.run("account", "balance")
    assert table.exit_code == 0 and "USDT" in table.stdout


def test_csv_and_ndjson_of_a_list(vmx: Harness) -> None:
    vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000")
    csv_out = vmx.run("order", "list", "-o", "csv").stdout.splitlines()
    assert csv_out[0].startswith("order_id,client_order_id,")
    assert "1000.00" in csv_out[1]
    nd = vmx.run("order", "list", "-o", "ndjson").stdout.splitlines()
    assert len(nd) == 1 and jsonfmt.loads(nd[0])["price"] == Decimal("1000.00")
    bad = vmx.run("order", "list", "-o", "yaml")
    assert bad.exit_code == 2


def test_strategy_list_and_deploy_of_an_unknown_id(vmx: Harness) -> None:
    listed = vmx.json("strategy", "list")["strategies"]
    assert {s["strategy_id"] for s in listed} == {"twap", "market-maker", "arbitrage", "sma-cross"}
    assert all(s["kind"] == "builtin" and s["params"] for s in listed)
    result = vmx.run(
        "strategy", "deploy", "nope", "--exchange", "BINANCE", "--symbol", "BTC/USDT",
        "--param", "spread=0.5", "--json",
    )  # fmt: skip
    assert result.exit_code == 7
    assert jsonfmt.loads(result.stderr)["error"]["code"] == "NOT_FOUND"
    bad = vmx.run("strategy", "deploy", "x", "-e", "BINANCE", "-s", "BTC/USDT", "-p", "oops")
    assert bad.exit_code == 2 and "key=value" in bad.stderr


def test_data_on_stdout_status_on_stderr(vmx: Harness) -> None:
    result = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000", tty=True)
    assert result.exit_code == 0
    assert "Order to send" in result.stderr and "Order to send" not in result.stdout
    assert "is open" in result.stderr
    piped = vmx.run("order", "list", "--json")
    assert piped.stderr == ""
    jsonfmt.loads(piped.stdout)


def test_colour_only_on_a_terminal_and_env_overrides(vmx: Harness) -> None:
    vmx.json("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "1000")
    on_tty = vmx.run("order", "list", tty=True, env={"TERM": "xterm-256color"})
    assert "\x1b[" in on_tty.stdout
    assert "\x1b[" not in vmx.run("order", "list", tty=False).stdout
    no_color = vmx.run("order", "list", tty=True, env={"NO_COLOR": "1", "TERM": "xterm"})
    assert "\x1b[" not in no_color.stdout
    forced = vmx.run("order", "list", tty=False, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout
    assert "\x1b[" not in vmx.run("--color", "never", "order", "list", tty=True).stdout
