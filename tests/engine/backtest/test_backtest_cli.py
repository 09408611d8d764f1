"""`vmx backtest` end to end through the real command: the engine's matching, fees and ledger
on recorded, CSV and simulated markets."""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path

from tests.engine.backtest.conftest import (
    BID_AT_FIRST_PRINT,
    BUY_ON_FIRST_TRADE,
    Vmx,
    delta,
    level,
    snapshot,
    trade,
    write_recording,
    write_trades,
)
from velocimex_cli.wire import jsonfmt

SMA = ("-e", "BINANCE", "-s", "BTC/USDT", "-p", "fast=3", "-p", "slow=8", "-p", "order_amount=0.01")


def test_same_inputs_give_byte_identical_reports(vmx: Vmx) -> None:
    args = ("backtest", "sma-cross", "--simulate", "40s", "--seed", "3", *SMA, "--json")
    first = vmx.run(*args)
    second = vmx.run(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    report = jsonfmt.loads(first.stdout)
    body = {k: v for k, v in report.items() if k != "report_hash"}
    assert report["report_hash"] == hashlib.sha256(jsonfmt.canonical(body).encode()).hexdigest()
    assert report["metrics"]["fills"] > 0, "the crafted market should make sma-cross trade"
    other_seed = vmx.run(*args[:4], "--seed", "4", *args[6:])
    assert jsonfmt.loads(other_seed.stdout)["report_hash"] != report["report_hash"]


def test_fees_and_pnl_reconcile_with_the_fills_exactly(vmx: Vmx, tmp_path: Path) -> None:
    fills_file = tmp_path / "fills.csv"
    report = vmx.json(
        "backtest", "sma-cross", "--simulate", "40s", "--seed", "3", *SMA,
        "--trades", str(fills_file),
    )  # fmt: skip
    with fills_file.open() as handle:
        fills = list(csv.DictReader(handle))
    metrics = report["metrics"]
    assert len(fills) == metrics["fills"] > 0
    fees = sum(Decimal(f["fee"]) for f in fills)
    assert fees == metrics["fees_paid"]
    cash = Decimal(0)
    inventory = Decimal(0)
    for fill in fills:
        notional = Decimal(fill["price"]) * Decimal(fill["quantity"])
        sign = 1 if fill["side"] == "buy" else -1
        cash -= sign * notional
        inventory += sign * Decimal(fill["quantity"])
        cash -= Decimal(fill["fee"])
    assert inventory == metrics["final_inventory"]  # the strategy's own, beyond the start's
    # The account's result splits exactly: the strategy's trades (cash and what it holds at
    # the last mark) and the starting inventory marked from the first to the last mark.
    trading = cash + inventory * metrics["final_mark"]
    assert trading == metrics["trading_pnl"]
    assert metrics["start_equity"] + trading + metrics["inventory_pnl"] == metrics["end_equity"]
    assert metrics["inventory_pnl"] == metrics["starting_inventory"] * (
        metrics["final_mark"] - metrics["first_mark"]
    )


def test_a_recording_is_replayed_without_look_ahead(vmx: Vmx, tmp_path: Path) -> None:
    """The strategy buys at market on a print at 100; the book moved to 105 right after it.

    It must pay 105: its order reaches the market only after the next event."""
    strategy = tmp_path / "buy_once.py"
    strategy.write_text(BUY_ON_FIRST_TRADE)
    data = write_recording(
        tmp_path / "rec.ndjson",
        [
            (0, snapshot([level("99.00", "1")], [level("100.00", "0.5")])),
            (10, trade(1, "100.00", "0.5", "buy")),
            (10, delta(2, ("ask", "100.00", "0"), ("ask", "105.00", "2"))),
            (20, delta(3, ("bid", "99.50", "1"))),
        ],
    )
    fills_file = tmp_path / "fills.csv"
    report = vmx.json("backtest", str(strategy), "--data", str(data), "--trades", str(fills_file))
    with fills_file.open() as handle:
        fills = list(csv.DictReader(handle))
    assert [(f["side"], Decimal(f["price"])) for f in fills] == [("buy", Decimal("105.00"))]
    assert report["metrics"]["final_inventory"] == Decimal("0.01")
    assert report["options"]["exchange"] == "BINANCE"  # taken from the recording's header


def test_queue_position_is_respected_unlike_touch(vmx: Vmx, tmp_path: Path) -> None:
    """The strategy starts on the first print (it leaves a price in the book) and bids 100 on
    the second; the bid reaches the book after the third (the next event), behind the queue
    the last print there implies; one more print of the same size trades there, then the
    market leaves. Touch fills it; a real queue (the default) does not."""
    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_AT_FIRST_PRINT)
    data = write_trades(
        tmp_path / "trades.csv",
        [(i, "100.00", "0.5", "sell") for i in range(4)]
        + [(4 + i, "101.00", "0.5", "buy") for i in range(5)],
    )
    common = (str(strategy), "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT")
    queue = vmx.json("backtest", *common)
    touch = vmx.json("backtest", *common, "--fill-model", "touch")
    assert queue["metrics"]["fills"] == 0
    assert touch["metrics"]["fills"] == 1
    assert touch["metrics"]["final_inventory"] == Decimal("0.01")


def test_a_shrinking_level_keeps_the_rest_of_its_queue_ahead(vmx: Vmx, tmp_path: Path) -> None:
    """A bid joins 100 behind 0.99 of recorded liquidity; the level then shrinks to 0.6. The
    newest liquidity leaves, the 0.6 that stays is still ahead: a print of 0.6 takes it, and
    only the next print reaches the strategy's bid."""
    strategy = tmp_path / "bid.py"
    strategy.write_text(BID_AT_FIRST_PRINT)
    data = write_recording(
        tmp_path / "rec.ndjson",
        [
            (0, snapshot([level("100.00", "1")], [level("101.00", "1")])),
            (10, trade(1, "100.00", "0.01", "sell")),
            (20, delta(2, ("ask", "101.00", "2"))),
            (30, delta(3, ("bid", "100.00", "0.6"))),
            (40, trade(2, "100.00", "0.6", "sell")),
            (50, trade(3, "100.00", "0.01", "sell")),
        ],
    )
    fills_file = tmp_path / "fills.csv"
    report = vmx.json("backtest", str(strategy), "--data", str(data), "--trades", str(fills_file))
    with fills_file.open() as handle:
        fills = list(csv.DictReader(handle))
    assert [(f["timestamp"], f["side"], Decimal(f["quantity"])) for f in fills] == [
        ("2026-01-01T00:00:00.050000Z", "buy", Decimal("0.01"))
    ]
    assert report["metrics"]["final_inventory"] == Decimal("0.01")


def test_lag_check_warns_when_one_more_event_wipes_out_the_result(vmx: Vmx, tmp_path: Path) -> None:
    strategy = tmp_path / "buy_once.py"
    strategy.write_text(BUY_ON_FIRST_TRADE)
    data = write_trades(
        tmp_path / "jump.csv",
        [(i, "100.00", "1", "buy") for i in range(3)]  # seen from the second
        + [(3 + i, "120.00", "1", "buy") for i in range(5)],
    )
    result = vmx.run(
        "backtest", str(strategy), "--data", str(data), "-e", "BINANCE", "-s", "BTC/USDT",
        "--lag-check", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = jsonfmt.loads(result.stdout)
    assert report["metrics"]["trading_return"] > 0
    assert report["lag_check"]["collapsed"] is True
    assert "collapses" in result.stderr


def test_progress_goes_to_stderr_and_json_stdout_stays_clean(vmx: Vmx) -> None:
    result = vmx.run("backtest", "sma-cross", "--simulate", "20s", *SMA, "--json", stderr_tty=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert jsonfmt.loads(result.stdout)["strategy_id"] == "sma-cross"
    assert "backtest" in result.stderr or "Simulating" in result.stderr


def test_table_report_has_the_figures_and_a_chart(vmx: Vmx) -> None:
    result = vmx.run("backtest", "sma-cross", "--simulate", "20s", *SMA)
    assert result.exit_code == 0, result.stderr
    for label in ("Sharpe", "Sortino", "Calmar", "max drawdown", "win rate", "fees paid",
                  "buy and hold", "equity", "drawdown", "report hash"):  # fmt: skip
        assert label in result.stdout
    # Off a terminal tables never wrap, but the charts keep a readable width (three minutes
    # are 180 one-second samples: more columns than that width).
    longer = vmx.run("backtest", "sma-cross", "--simulate", "3m", *SMA)
    assert longer.exit_code == 0, longer.stderr
    chart_rows = [line for line in longer.stdout.splitlines() if "█" in line]
    assert chart_rows and all(len(line.rstrip()) <= 80 for line in chart_rows)


def test_bad_inputs_are_clear_errors(vmx: Vmx, tmp_path: Path) -> None:
    malformed = tmp_path / "bad.csv"
    malformed.write_text("timestamp,price,quantity,side\n2026-01-01T00:00:00Z,abc,1,buy\n")
    result = vmx.run(
        "backtest", "sma-cross", "--data", str(malformed), "-e", "BINANCE", "-s", "BTC/USDT"
    )
    assert result.exit_code == 2
    assert "line 2" in result.stderr and "price" in result.stderr

    result = vmx.run(
        "backtest", "no-such-strategy", "--simulate", "10s", "-e", "BINANCE", "-s", "BTC/USDT"
    )
    assert result.exit_code == 7
    assert "sma-cross" in result.stderr  # names what exists

    result = vmx.run("backtest", "sma-cross", "--simulate", "10s", *SMA[:4], "-p", "fast=-3")
    assert result.exit_code == 2
    assert "fast" in result.stderr

    result = vmx.run("backtest", "sma-cross", "--simulate", "10s", *SMA, "--sweep", "fast=9:3:1")
    assert result.exit_code == 2
    assert "empty range" in result.stderr

    result = vmx.run("backtest", "sma-cross", *SMA)
    assert result.exit_code == 2
    assert "--data" in result.stderr and "--simulate" in result.stderr

    broken = tmp_path / "rec.ndjson"
    broken.write_text(
        '{"format": "vmx-recording", "version": 1, "started_at": "2026-01-01T00:00:00Z"}\n{"t": 1\n'
    )
    result = vmx.run(
        "backtest", "sma-cross", "--data", str(broken), "-e", "BINANCE", "-s", "BTC/USDT"
    )
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_orders_the_engine_refuses_are_counted_and_said(vmx: Vmx) -> None:
    """A TWAP whose limit is far through the mid meets the 10% price band: no fills, and the
    report and stderr say why instead of leaving a silent zero."""
    twap = ("backtest", "twap", "--simulate", "2m", "--seed", "3", "-e", "BINANCE",
            "-s", "BTC/USDT", "-p", "side=buy", "-p", "quantity=0.05", "-p", "slices=5",
            "-p", "duration=60")  # fmt: skip
    far = vmx.run(*twap, "-p", "limit_price=90000", "--json")
    assert far.exit_code == 0, far.stderr
    report = jsonfmt.loads(far.stdout)
    assert report["metrics"]["fills"] == 0
    assert report["orders_rejected"] == 6  # five slices and the catch-up at the end
    assert "price band" in report["first_rejection"]
    assert "6 of the strategy's orders were rejected" in far.stderr
    near = jsonfmt.loads(vmx.run(*twap, "-p", "limit_price=61000", "--json").stdout)
    assert near["metrics"]["fills"] == 5 and near["orders_rejected"] == 0
