"""The report's arithmetic on small hand-computed cases (exact decimals, no floats)."""

from __future__ import annotations

from decimal import Decimal as D

from velocimex_cli.engine.backtest.metrics import Fill, Sample, compute, drawdown, round_trips

MINUTE = 60_000_000


def _samples(*equities: str, position: str = "0") -> list[Sample]:
    return [Sample(i * MINUTE, D(e), D(position)) for i, e in enumerate(equities)]


def test_round_trips_are_fifo_and_net_of_fees() -> None:
    fills = [
        Fill(0, "buy", D("100"), D("1"), D("0.1"), "taker", None),
        Fill(1, "buy", D("102"), D("1"), D("0.1"), "taker", None),
        Fill(2, "sell", D("110"), D("1.5"), D("0.15"), "maker", None),
        Fill(3, "sell", D("90"), D("0.5"), D("0.05"), "maker", None),
    ]
    trades = round_trips(fills)
    assert [(t.opened, t.closed, t.quantity) for t in trades] == [
        (0, 2, D("1")),
        (1, 2, D("0.5")),
        (1, 3, D("0.5")),
    ]
    # (110 - 100) x 1 - (0.1 + 0.1); (110 - 102) x 0.5 - (0.05 + 0.05); (90 - 102) x 0.5 - 0.1
    assert [t.pnl for t in trades] == [D("9.8"), D("3.9"), D("-6.1")]


def test_short_round_trip_gains_when_price_falls() -> None:
    trades = round_trips(
        [
            Fill(0, "sell", D("50"), D("2"), D("0"), "taker", None),
            Fill(1, "buy", D("45"), D("2"), D("0"), "taker", None),
        ]
    )
    assert [t.pnl for t in trades] == [D("10")]
    assert trades[0].side == "sell"


def test_drawdown_value_and_duration() -> None:
    worst, longest, series = drawdown(_samples("100", "110", "99", "105", "120", "60"))
    assert worst == D("0.5")  # 120 -> 60
    assert series[2] == D("0.1")  # (110 - 99) / 110
    assert longest == 3 * MINUTE  # below 110 from t1 until t4; below 120 from t4 to the end: 1


def test_report_figures() -> None:
    samples = _samples("100", "110", "99", "120")
    fills = [
        Fill(0, "buy", D("100"), D("1"), D("0.1"), "taker", D("99.9")),
        Fill(MINUTE, "sell", D("110"), D("1"), D("0.1"), "maker", D("110.2")),
    ]
    report = compute(
        samples,
        fills,
        ordered_quantity=D("4"),
        first_price=D("100"),
        last_price=D("125"),
        market_maker=True,
        annualize=True,
    )
    assert report["total_return"] == D("0.200000")
    assert report["max_drawdown"] == D("0.100000")
    assert report["trades"] == 1 and report["fills"] == 2
    assert report["win_rate"] == D("1.000000")
    assert report["profit_factor"] is None  # no losing trade
    assert report["fees_paid"] == D("0.2")
    assert report["fill_ratio"] == D("0.500000")
    assert report["buy_and_hold_return"] == D("0.250000")
    # bought 0.1 above the mid, sold 0.2 below it: captured -0.3
    assert report["spread_captured"] == D("-0.3")
    returns = [D("0.1"), D("-0.1"), D("21") / D("99")]
    mean = sum(returns) / 3
    assert report["sharpe"] is not None and report["sharpe"] > 0
    assert (mean > 0) == (report["sortino"] > 0)


def test_flat_equity_has_no_ratios() -> None:
    report = compute(
        _samples("100", "100", "100"),
        [],
        ordered_quantity=D("0"),
        first_price=None,
        last_price=None,
    )
    assert report["total_return"] == D("0.000000")
    assert report["sharpe"] is None and report["sortino"] is None and report["calmar"] is None
    assert report["fill_ratio"] is None and report["trades"] == 0
