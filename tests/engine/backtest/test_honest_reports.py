"""Reports a quant can believe: no annualised figures for short runs unless asked, PnL split
into trading and starting inventory, exact decimals, and metrics that agree with an independent
computation of the textbook formulas on the same equity curve."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from decimal import Decimal as D
from pathlib import Path

from tests.engine.backtest.conftest import Vmx, write_trades
from velocimex_cli.engine.backtest.metrics import Sample, compute

MARKET = ("-e", "BINANCE", "-s", "BTC/USDT")
DAY = 86_400_000_000
YEAR_DAYS = 365


def _curve(days: int) -> list[Sample]:
    """A daily equity curve with ups and downs (no position: the curve is the strategy's)."""
    equity = D(100_000)
    samples = [Sample(0, equity, D(0))]
    for day in range(1, days + 1):
        move = D((day * 37) % 11 - 5) / D(1000)  # -0.5% .. +0.5%
        equity = equity * (1 + move)
        samples.append(Sample(day * DAY, equity, D(0)))
    return samples


def test_metrics_match_an_independent_float_computation_of_the_same_formulas() -> None:
    """Sharpe, Sortino, volatility, annualised return, max drawdown and Calmar, recomputed in
    floats with the formulas empyrical documents (zero risk-free rate and target): Sharpe =
    mean / sample stdev x sqrt(periods per year); Sortino = mean / sqrt(mean(min(r, 0)^2)) x
    sqrt(periods per year); annualised return = (end / start) ^ (1 / years) - 1; Calmar =
    annualised return / max drawdown."""
    samples = _curve(60)
    report = compute(samples, [], ordered_quantity=D(0), first_price=None, last_price=None)
    equities = [float(s.equity) for s in samples]
    returns = [b / a - 1 for a, b in itertools.pairwise(equities)]
    periods = YEAR_DAYS  # one sample a day
    mean = statistics.fmean(returns)
    stdev = statistics.stdev(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    years = 60 / YEAR_DAYS
    annualised = (equities[-1] / equities[0]) ** (1 / years) - 1
    peak, worst = equities[0], 0.0
    for value in equities:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak)
    expected = {
        "sharpe": mean / stdev * math.sqrt(periods),
        "sortino": mean / downside * math.sqrt(periods),
        "annualised_volatility": stdev * math.sqrt(periods),
        "annualised_return": annualised,
        "max_drawdown": worst,
        "calmar": annualised / worst,
        "sharpe_per_period": mean / stdev,
        "mean_return_per_period": mean,
    }
    assert report["annualised"] is True  # 60 days: past the 30-day minimum
    for key, value in expected.items():
        got = report[key]
        assert isinstance(got, D), key
        assert math.isclose(float(got), value, rel_tol=1e-5, abs_tol=1e-9), (key, got, value)


def test_a_short_run_has_no_annualised_figures_unless_asked() -> None:
    samples = _curve(3)
    report = compute(samples, [], ordered_quantity=D(0), first_price=None, last_price=None)
    assert report["annualised"] is False and report["run_seconds"] == 3 * 86_400
    for key in ("annualised_return", "annualised_volatility", "sharpe", "sortino", "calmar"):
        assert report[key] is None, key
    assert report["sharpe_per_period"] is not None
    forced = compute(
        samples, [], ordered_quantity=D(0), first_price=None, last_price=None, annualize=True
    )
    assert forced["sharpe"] is not None and forced["annualised_return"] is not None


def test_inventory_held_from_the_start_is_not_the_strategys_return() -> None:
    """The account starts with 1 BTC at 100 and 100 of cash and never trades; BTC goes to 150.
    The account gained 50, all of it the starting inventory's: the strategy made nothing."""
    samples = [
        Sample(0, D(200), D(1), D(100)),
        Sample(DAY, D(250), D(1), D(150)),
        Sample(2 * DAY, D(230), D(1), D(130)),
    ]
    report = compute(
        samples, [], ordered_quantity=D(0), first_price=None, last_price=None, start_inventory=D(1)
    )
    assert report["total_return"] == D("0.15")
    assert report["inventory_pnl"] == D(30) and report["trading_pnl"] == D(0)
    assert report["trading_return"] == 0 and report["max_drawdown"] == 0
    assert report["buy_and_hold_return"] == D("0.3")
    assert report["final_inventory"] == 0 and report["exposure"] == 0


def _trend(path: Path) -> Path:
    rows = [(s, f"{60_000 + s}.00", "0.05", "buy" if s % 3 else "sell") for s in range(600)]
    return write_trades(path, rows)


def test_the_table_says_why_a_short_run_has_no_annualised_figures(vmx: Vmx, tmp_path: Path) -> None:
    data = _trend(tmp_path / "trend.csv")
    result = vmx.run("backtest", "sma-cross", "--data", str(data), *MARKET)
    assert result.exit_code == 0, result.stderr
    assert "Sharpe" in result.stdout
    assert re.search(r"Sharpe\s+│\s+n/a \(run of 9m59s\)", result.stdout), result.stdout
    assert "E+" not in result.stdout and "E-" not in result.stdout
    forced = vmx.json("backtest", "sma-cross", "--data", str(data), *MARKET, "--annualize")
    assert forced["metrics"]["annualised"] is True
    assert forced["metrics"]["annualised_return"] is not None


def test_json_numbers_are_plain_exact_decimals(vmx: Vmx, tmp_path: Path) -> None:
    data = _trend(tmp_path / "trend.csv")
    result = vmx.run("backtest", "sma-cross", "--data", str(data), *MARKET, "--json")
    assert result.exit_code == 0, result.stderr
    numbers = re.findall(r"(?<=[:\[,])-?\d[\d.eE+-]*(?=[,}\]])", result.stdout)
    assert numbers and not [n for n in numbers if "e" in n.lower()], numbers


def test_both_halves_of_a_split_have_buy_and_hold(vmx: Vmx, tmp_path: Path) -> None:
    data = _trend(tmp_path / "trend.csv")
    report = vmx.json("backtest", "sma-cross", "--data", str(data), *MARKET, "--split", "0.5")
    inside, outside = report["metrics"], report["out_of_sample"]
    assert inside["buy_and_hold_return"] > 0 and outside["buy_and_hold_return"] > 0
    # Each half is marked from its own first mark: about 300 of 60,000 each.
    assert abs(inside["buy_and_hold_return"] - outside["buy_and_hold_return"]) < D("0.0005")


def test_a_default_market_maker_backtest_has_what_it_sells(vmx: Vmx, tmp_path: Path) -> None:
    data = _trend(tmp_path / "trend.csv")
    report = vmx.json("backtest", "market-maker", "--data", str(data), *MARKET)
    assert report["metrics"]["starting_inventory"] > 0
    assert "INSUFFICIENT_BALANCE" not in str(report["first_rejection"])
    assert report["orders_rejected"] == 0
