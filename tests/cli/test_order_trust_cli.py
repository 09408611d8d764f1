"""`vmx` says what the engine did with an order (issue 8): replays and conflicts, a dry run that
asks the engine and exits like the real order, risk limits, the dead-man switch, history pages,
orders that ended without their fill, and the account's totals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.cli.conftest import Harness
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import ExitCode

LIMIT = ("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "50000", "--yes")


def all_orders(vmx: Harness) -> list[dict]:
    return vmx.json("order", "list", "--status", "all")["orders"]


def test_an_exact_replay_says_nothing_new_was_sent_and_a_changed_one_is_refused(
    vmx: Harness,
) -> None:
    first = vmx.run(*LIMIT, "--client-id", "desk-1", "--json")
    assert first.exit_code == 0, first.stderr
    order_id = jsonfmt.loads(first.stdout)["order_id"]
    assert "already placed" not in first.stderr
    again = vmx.run(*LIMIT, "--client-id", "desk-1", "--json")
    assert again.exit_code == 0
    assert jsonfmt.loads(again.stdout)["order_id"] == order_id
    assert f"already placed as order {order_id}: nothing new was sent" in again.stderr
    changed = vmx.run("sell", *LIMIT[1:], "--client-id", "desk-1")
    assert changed.exit_code == ExitCode.USAGE
    assert f"already used for order {order_id}" in changed.stderr
    assert "client_order_id" in changed.stderr
    assert [o["order_id"] for o in all_orders(vmx)] == [order_id]


def test_a_batch_counts_replays_apart_from_placements(vmx: Harness) -> None:
    line = jsonfmt.dumps(
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
         "quantity": Decimal("0.01"), "price": Decimal("50000"), "client_order_id": "b-1"}
    )  # fmt: skip
    other = line.replace("b-1", "b-2")
    result = vmx.run("order", "place", "-f", "-", "--yes", input="\n".join([line, other, line]))
    assert result.exit_code == 0, result.stderr
    assert "2 placed, 1 already placed (nothing new sent), 0 failed" in result.stderr
    assert "line 3: ok" in result.stdout and "already placed" in result.stdout.splitlines()[2]
    assert len(all_orders(vmx)) == 2


def test_dry_run_asks_the_engine_and_exits_with_the_code_of_the_real_order(
    vmx: Harness,
) -> None:
    good = vmx.run(*LIMIT, "--dry-run", "--json")
    assert good.exit_code == 0, good.stderr
    answer = jsonfmt.loads(good.stdout)
    assert answer["accepted"] is True and answer["order"]["status"] == "open"
    assert answer["estimate"]["locked"] > Decimal(500) and "Nothing was sent" in good.stderr
    doomed = [
        (("buy", "BINANCE", "BTC/USDT", "100", "--price", "50000"), ExitCode.INSUFFICIENT_BALANCE),
        (("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "90000"), ExitCode.RISK_LIMIT),
        (("buy", "NASDAQ", "AAPL", "1", "--price", "150.001"), ExitCode.USAGE),
    ]
    for args, code in doomed:
        dry = vmx.run(*args, "--dry-run")
        real = vmx.run(*args, "--yes")
        assert dry.exit_code == real.exit_code == code, (args, dry.stderr, real.stderr)
    ask = vmx.json("ticker", "BINANCE", "BTC/USDT")
    ask = ask[0]["ask"] if isinstance(ask, list) else ask.get("ask")
    post_only = ("buy", "BINANCE", "BTC/USDT", "0.01", "--price", str(ask), "--post-only")
    dry = vmx.run(*post_only, "--dry-run")
    assert dry.exit_code == ExitCode.NOT_FILLED, dry.stderr
    assert "would be rejected (post_only_would_take)" in dry.stderr
    before = len(all_orders(vmx))
    real = vmx.run(*post_only, "--yes")
    assert real.exit_code == ExitCode.NOT_FILLED
    assert len(all_orders(vmx)) == before + 1  # only the real one created an order


def test_orders_that_end_without_their_fill_exit_11(vmx: Harness) -> None:
    ioc = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--price", "59000", "--tif", "ioc", "-y")
    assert ioc.exit_code == ExitCode.NOT_FILLED
    assert "canceled (ioc_remainder): 0.00000 of 0.01000 filled" in ioc.stderr
    fok = vmx.run("buy", "BINANCE", "BTC/USDT", "1", "--price", "60013", "--tif", "fok", "-y")
    assert fok.exit_code == ExitCode.NOT_FILLED and "fok_not_fillable" in fok.stderr
    filled = vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--yes")  # market, fills in full
    assert filled.exit_code == 0 and "is filled" in filled.stderr


def test_limits_are_shown_and_changed_with_confirmation_and_yes_never_skips_one(
    vmx: Harness,
) -> None:
    shown = vmx.json("account", "limits")
    assert shown["price_band_pct"] == 10 and shown["max_open_orders"] == 1000
    refused = vmx.run("account", "limits", "set", "max_order_notional", "400")
    assert refused.exit_code == ExitCode.USAGE and "--yes" in refused.stderr
    assert vmx.json("account", "limits")["max_order_notional"] == 1000000
    declined = vmx.run("account", "limits", "set", "max_order_notional", "400", tty=True,
                       input="n\n")  # fmt: skip
    assert declined.exit_code == 1 and "from 1000000 to 400" in declined.stderr
    accepted = vmx.run("account", "limits", "set", "max_order_notional", "400", tty=True,
                       input="y\n")  # fmt: skip
    assert accepted.exit_code == 0, accepted.stderr
    assert vmx.json("account", "limits")["max_order_notional"] == 400
    breach = vmx.run(*LIMIT)  # notional 500 > 400; --yes is on the command line
    assert breach.exit_code == ExitCode.RISK_LIMIT
    assert "RISK_LIMIT_EXCEEDED" in breach.stderr and "max_order_notional" in breach.stderr
    off = vmx.run("account", "limits", "set", "max_order_notional", "none", "--yes")
    assert off.exit_code == 0 and vmx.json("account", "limits")["max_order_notional"] is None
    assert vmx.run(*LIMIT).exit_code == 0
    for bad in (("leverage", "3"), ("price_band_pct", "lots"), ("max_open_orders", "0")):
        result = vmx.run("account", "limits", "set", *bad, "--yes")
        assert result.exit_code == ExitCode.USAGE, (bad, result.stderr)


def test_cancel_after_arms_shows_and_disarms_the_switch(vmx: Harness) -> None:
    armed = vmx.run("order", "cancel-after", "60", "--json")
    assert armed.exit_code == 0, armed.stderr
    data = jsonfmt.loads(armed.stdout)
    assert data["timeout"] == 60 and data["trigger_time"] == "2026-11-24T15:01:00.000000Z"
    assert "unless you run `vmx order cancel-after 60` again" in armed.stderr
    assert vmx.json("order", "cancel-after")["trigger_time"] == data["trigger_time"]
    off = vmx.run("order", "cancel-after", "0")
    assert off.exit_code == 0 and "off" in off.stderr
    for bad in ("-5", "1.5", "90000", "soon"):
        result = vmx.run("order", "cancel-after", bad)
        assert result.exit_code == ExitCode.USAGE, (bad, result.stderr)


def test_order_list_and_fills_page_and_say_when_cut(vmx: Harness, tmp_path: Path) -> None:
    lines = [
        jsonfmt.dumps({"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy",
                       "type": "limit", "quantity": Decimal("0.01"),
                       "price": Decimal(49000 + i)})
        for i in range(5)
    ]  # fmt: skip
    assert vmx.run("order", "place", "-f", "-", "--yes", input="\n".join(lines)).exit_code == 0
    cut = vmx.run("order", "list", "--limit", "2", "-o", "csv")
    assert cut.exit_code == 0
    assert len(cut.stdout.splitlines()) == 3  # header + 2 rows
    assert "2 of 5 shown; use --limit" in cut.stderr
    next_page = cut.stderr.split("--before ")[1].split()[0]
    rest = vmx.json("order", "list", "--before", next_page)
    assert rest["total"] == 3 and len(rest["orders"]) == 3
    whole = vmx.run("order", "list")
    assert "shown" not in whole.stderr
    bad = vmx.run("order", "list", "--since", "last tuesday")
    assert bad.exit_code == ExitCode.USAGE and "since" in bad.stderr
    for _ in range(3):
        vmx.run("buy", "BINANCE", "BTC/USDT", "0.001", "--yes")
    fills = vmx.run("order", "fills", "--limit", "1")
    assert fills.exit_code == 0 and "1 of " in fills.stderr


def test_positions_end_with_the_account_totals(vmx: Harness) -> None:
    assert vmx.run("buy", "BINANCE", "BTC/USDT", "0.01", "--yes").exit_code == 0
    table = vmx.run("account", "positions")
    assert table.exit_code == 0 and "account totals" in table.stdout
    assert table.stdout.index("account totals") > table.stdout.index("BTC/USDT")
    data = vmx.json("account", "positions")
    (total,) = data["totals"]
    (position,) = data["positions"]
    assert total["asset"] == "USDT"
    assert total["realized_pnl"] == position["realized_pnl"] < 0  # the fee, realized
    assert total["unrealized_pnl"] == position["unrealized_pnl"]
    rows = vmx.run("account", "positions", "-o", "csv").stdout.splitlines()
    assert rows[0].startswith("exchange,symbol") and len(rows) == 2


def test_a_batch_dry_run_asks_the_engine_for_every_line(vmx: Harness) -> None:
    good = jsonfmt.dumps(
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
         "quantity": Decimal("0.01"), "price": Decimal("50000")}
    )  # fmt: skip
    too_big = good.replace("0.01", "100")  # 5,000,000 USDT: more than the balance
    result = vmx.run("order", "place", "-f", "-", "--dry-run", input=good + "\n" + too_big)
    assert result.exit_code == ExitCode.INSUFFICIENT_BALANCE, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("line 1: accepted status=open")
    assert lines[1].startswith("line 2: error INSUFFICIENT_BALANCE")
    assert "dry run: 1 accepted by the engine, 1 refused; nothing sent" in result.stderr
    assert all_orders(vmx) == []


def test_a_batch_whose_orders_end_without_their_fill_exits_11(vmx: Harness) -> None:
    ioc = jsonfmt.dumps(
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
         "quantity": Decimal("0.01"), "price": Decimal("50000"), "time_in_force": "ioc"}
    )  # fmt: skip
    resting = ioc.replace(', "time_in_force": "ioc"', "")
    result = vmx.run("order", "place", "-f", "-", "--yes", input=resting + "\n" + ioc)
    assert result.exit_code == ExitCode.NOT_FILLED, result.stderr
    assert "2 placed, 0 failed (1 ended without their fill)" in result.stderr
