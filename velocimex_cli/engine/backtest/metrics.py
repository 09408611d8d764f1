"""A backtest's numbers from its equity curve and its fills, in exact decimal arithmetic.

Everything here is `decimal.Decimal` in one fixed context (28 significant digits, half-even), so
the same inputs give the same digits on every machine: the report is hashed and compared byte for
byte. Ratios that need a root or a fractional power (volatility, Sharpe, annualised return) use
Decimal's correctly rounded `sqrt` and `**`, never floats.

Conventions (documented in docs/backtests.md):
- Returns are simple returns of equity between consecutive samples of a fixed time grid. Every
  run reports them per period (mean, sample standard deviation, Sharpe and Sortino per period).
- They are annualised with the number of grid intervals in a 365-day year (crypto trades every
  day) only for a run of at least MIN_ANNUALISED_DAYS of data, or when asked (`--annualize`):
  a year extrapolated from an hour is noise (an hour's -0.01% compounds to -60% a year).
- The risk-free rate is 0. Sharpe = mean / stdev x sqrt(periods per year) (Sharpe 1994, "The
  Sharpe Ratio", with a zero benchmark); Sortino = mean / downside deviation x sqrt(periods per
  year), the downside deviation being the root mean square of min(r, 0) over all periods (Sortino
  and Price 1994, target 0); Calmar = annualised return / max drawdown (Young 1991). These are
  the formulas of empyrical's `sharpe_ratio`, `sortino_ratio` and `calmar_ratio`, and the test
  suite checks them against an independent float computation on the same curve.
- PnL splits into the mark-to-market of the starting inventory (what holding the starting base
  asset gained or lost at the mark) and the strategy's trading PnL (everything else: its trades,
  their fees, and the mark of what it bought or sold).
- A trade is a round trip: fills are matched first in, first out; a trade's PnL is its price
  difference times its quantity minus the fees of the fills that opened and closed it, pro rata.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
YEAR_MICROS = 365 * 86_400 * 1_000_000
DAY_MICROS = 86_400 * 1_000_000
MIN_ANNUALISED_DAYS = 30  # shorter runs report per-period figures only, unless asked
# The figures that extrapolate to a year: undefined for a short run unless asked.
ANNUALISED = ("annualised_return", "annualised_volatility", "sharpe", "sortino", "calmar")
ZERO = Decimal(0)
ONE = Decimal(1)
RATIO_PLACES = Decimal("0.000001")
# Fractions (returns, drawdown, shares) keep 12 decimals in the JSON (tables round them to 4
# significant digits); a period's mean return or volatility keeps 15: a minute's is often a
# few billionths.
FRACTION_PLACES = Decimal("1E-12")
PERIOD_PLACES = Decimal("1E-15")


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of the strategy's own orders, in the instrument's quote currency."""

    timestamp: int  # microseconds since the epoch, UTC
    side: str  # "buy" | "sell"
    price: Decimal
    quantity: Decimal
    fee: Decimal
    liquidity: str  # "maker" | "taker"
    mid: Decimal | None  # the book's mid just before the fill, for spread capture


@dataclass(frozen=True, slots=True)
class Sample:
    """Equity (quote currency, marked at the mid) and inventory at one point of the time grid."""

    timestamp: int
    equity: Decimal
    position: Decimal
    mark: Decimal | None = None  # the mid (or last mark) equity was valued at


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip."""

    opened: int
    closed: int
    side: str  # the opening side
    quantity: Decimal
    pnl: Decimal


def round_trips(fills: Sequence[Fill]) -> list[Trade]:
    """Match fills first in, first out into closed round trips (long and short)."""
    with localcontext(CONTEXT):
        open_lots: deque[list] = deque()  # [timestamp, side, price, quantity left, fee per unit]
        trades: list[Trade] = []
        for fill in fills:
            quantity = fill.quantity
            fee_per_unit = fill.fee / fill.quantity if fill.quantity else ZERO
            while quantity > 0 and open_lots and open_lots[0][1] != fill.side:
                lot = open_lots[0]
                matched = min(quantity, lot[3])
                direction = ONE if lot[1] == "buy" else -ONE
                pnl = (fill.price - lot[2]) * matched * direction
                pnl -= (lot[4] + fee_per_unit) * matched
                trades.append(Trade(lot[0], fill.timestamp, lot[1], matched, pnl))
                lot[3] -= matched
                quantity -= matched
                if lot[3] == 0:
                    open_lots.popleft()
            if quantity > 0:
                open_lots.append([fill.timestamp, fill.side, fill.price, quantity, fee_per_unit])
        return trades


def _quantize(value: Decimal | None, places: Decimal = RATIO_PLACES) -> Decimal | None:
    if value is None:
        return None
    with localcontext(CONTEXT):
        if value.adjusted() > 18:  # e.g. a year's compounding of a minute's return: keep digits
            return +value
        return value.quantize(places)


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values) if values else ZERO


def _stdev(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation (n - 1); 0 for fewer than two values."""
    if len(values) < 2:
        return ZERO
    mean = _mean(values)
    variance = sum(((v - mean) ** 2 for v in values), ZERO) / (len(values) - 1)
    return variance.sqrt()


def drawdown(samples: Sequence[Sample]) -> tuple[Decimal, int, list[Decimal]]:
    """(max drawdown as a fraction of the peak, its longest duration in microseconds, the
    drawdown at every sample). Duration is the longest stretch spent below a previous peak."""
    with localcontext(CONTEXT):
        peak = None
        peak_time = 0
        worst = ZERO
        longest = 0
        series: list[Decimal] = []
        for sample in samples:
            if peak is None or sample.equity >= peak:
                if peak is not None:
                    longest = max(longest, sample.timestamp - peak_time)
                peak = sample.equity
                peak_time = sample.timestamp
                series.append(ZERO)
                continue
            depth = (peak - sample.equity) / peak if peak > 0 else ZERO
            series.append(depth)
            worst = max(worst, depth)
        if samples and peak is not None and samples[-1].equity < peak:
            longest = max(longest, samples[-1].timestamp - peak_time)
        return worst, longest, series


def strategy_curve(
    samples: Sequence[Sample], start_inventory: Decimal | None = None
) -> list[Sample]:
    """The samples' equity less the mark-to-market of the starting inventory (the base asset
    held at the start, valued at each sample's mark instead of the first one): the curve of
    what the strategy's own trading made. Samples without marks are returned as they are."""
    if not samples or samples[0].mark is None:
        return list(samples)
    held = samples[0].position if start_inventory is None else start_inventory
    first = samples[0].mark
    if not held:
        return list(samples)
    with localcontext(CONTEXT):
        return [
            Sample(s.timestamp, s.equity - held * ((s.mark or first) - first), s.position, s.mark)
            for s in samples
        ]


def compute(
    samples: Sequence[Sample],
    fills: Sequence[Fill],
    *,
    ordered_quantity: Decimal,
    first_price: Decimal | None,
    last_price: Decimal | None,
    market_maker: bool = False,
    annualize: bool = False,
    start_inventory: Decimal | None = None,
) -> dict[str, object]:
    """Every figure of the report as exact decimals (None where a figure is undefined).

    Returns, ratios, drawdown and exposure are those of the strategy's curve (`strategy_curve`:
    equity less the mark-to-market of the starting inventory); total return and PnL are the
    account's, split into trading and inventory PnL. Annualised figures are None for a run
    shorter than MIN_ANNUALISED_DAYS unless `annualize` (the report says so: `annualised`
    false and `run_seconds`); the per-period ones are always there. Buy and hold is the move of
    the mark between the first and the last sample (the first and last trade prices where the
    samples carry no mark). `start_inventory` is the base asset the account started with
    (default: the first sample's position)."""
    with localcontext(CONTEXT):
        start = samples[0].equity if samples else ZERO
        end = samples[-1].equity if samples else ZERO
        duration = samples[-1].timestamp - samples[0].timestamp if len(samples) > 1 else 0
        curve = strategy_curve(samples, start_inventory)
        returns = [
            (b.equity - a.equity) / a.equity for a, b in itertools.pairwise(curve) if a.equity > 0
        ]
        total_return = (end - start) / start if start > 0 else ZERO
        years = Decimal(duration) / YEAR_MICROS if duration else ZERO
        annualised_run = annualize or duration >= MIN_ANNUALISED_DAYS * DAY_MICROS
        annualised = None
        curve_end = curve[-1].equity if curve else ZERO
        if years > 0 and curve_end > 0 and start > 0:
            annualised = (curve_end / start) ** (ONE / years) - ONE
        periods_per_year = (
            Decimal(YEAR_MICROS) * (len(samples) - 1) / duration if duration else ZERO
        )
        root_periods = periods_per_year.sqrt() if periods_per_year > 0 else ZERO
        mean = _mean(returns)
        stdev = _stdev(returns)
        downside = (
            (sum((min(r, ZERO) ** 2 for r in returns), ZERO) / len(returns)).sqrt()
            if returns
            else ZERO
        )
        max_dd, dd_duration, _series = drawdown(curve)
        start_mark = samples[0].mark if samples else None
        end_mark = samples[-1].mark if samples else None
        if start_mark is None or end_mark is None:
            start_mark, end_mark = first_price, last_price
        trading_pnl = curve_end - start
        inventory_pnl = end - curve_end
        trades = round_trips(fills)
        wins = [t.pnl for t in trades if t.pnl > 0]
        losses = [t.pnl for t in trades if t.pnl <= 0]
        gross_loss = -sum(losses, ZERO)
        held = ZERO
        if samples:
            held = samples[0].position if start_inventory is None else start_inventory
        # The strategy's own position: what it holds beyond the starting inventory.
        positions = [s.position - held for s in samples]
        exposed = sum(
            (
                b.timestamp - a.timestamp
                for a, b in itertools.pairwise(samples)
                if a.position != held
            ),
            0,
        )
        fees = sum((f.fee for f in fills), ZERO)
        filled = sum((f.quantity for f in fills), ZERO)
        buy_and_hold = (
            (end_mark - start_mark) / start_mark
            if start_mark and end_mark is not None and start_mark > 0
            else None
        )
        period_seconds = duration // (len(samples) - 1) // 1_000_000 if duration else 0
        report: dict[str, object] = {
            "start_equity": start,
            "end_equity": end,
            "total_return": _quantize(total_return, FRACTION_PLACES),
            "pnl": end - start,
            "trading_pnl": trading_pnl,
            "trading_return": _quantize(trading_pnl / start, FRACTION_PLACES)
            if start > 0
            else ZERO,
            "inventory_pnl": inventory_pnl,
            "run_seconds": duration // 1_000_000,
            "annualised": annualised_run,
            "period_seconds": period_seconds,
            "mean_return_per_period": _quantize(mean, PERIOD_PLACES),
            "volatility_per_period": _quantize(stdev, PERIOD_PLACES),
            "sharpe_per_period": _quantize(mean / stdev, FRACTION_PLACES) if stdev > 0 else None,
            "sortino_per_period": _quantize(mean / downside, FRACTION_PLACES)
            if downside > 0
            else None,
            "annualised_return": _quantize(annualised, FRACTION_PLACES),
            "annualised_volatility": _quantize(stdev * root_periods, FRACTION_PLACES),
            "sharpe": _quantize(mean / stdev * root_periods) if stdev > 0 else None,
            "sortino": _quantize(mean / downside * root_periods) if downside > 0 else None,
            "calmar": _quantize(annualised / max_dd)
            if annualised is not None and max_dd > 0
            else None,
            "max_drawdown": _quantize(max_dd, FRACTION_PLACES),
            "max_drawdown_duration_seconds": dd_duration // 1_000_000,
            "fills": len(fills),
            "trades": len(trades),
            "win_rate": _quantize(Decimal(len(wins)) / len(trades), FRACTION_PLACES)
            if trades
            else None,
            "profit_factor": _quantize(sum(wins, ZERO) / gross_loss) if gross_loss > 0 else None,
            "expectancy": _quantize(_mean([t.pnl for t in trades])) if trades else None,
            "best_trade": max((t.pnl for t in trades), default=None),
            "worst_trade": min((t.pnl for t in trades), default=None),
            "average_trade": _quantize(_mean([t.pnl for t in trades])) if trades else None,
            "fees_paid": fees,
            "exposure": _quantize(Decimal(exposed) / duration, FRACTION_PLACES)
            if duration
            else ZERO,
            "fill_ratio": _quantize(filled / ordered_quantity, FRACTION_PLACES)
            if ordered_quantity > 0
            else None,
            "starting_inventory": held,
            "final_inventory": positions[-1] if positions else ZERO,
            "buy_and_hold_return": _quantize(buy_and_hold, FRACTION_PLACES),
        }
        if not annualised_run:
            for key in ANNUALISED:
                report[key] = None
        if market_maker:
            captured = ZERO
            for fill in fills:
                if fill.mid is None:
                    continue
                edge = fill.mid - fill.price if fill.side == "buy" else fill.price - fill.mid
                captured += edge * fill.quantity
            report["spread_captured"] = captured
            report["inventory_min"] = min(positions, default=ZERO)
            report["inventory_max"] = max(positions, default=ZERO)
        return report
