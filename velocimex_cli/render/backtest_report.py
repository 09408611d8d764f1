"""A backtest's report, its equity and drawdown charts, and a sweep's table and heatmap, as Rich
renderables. No I/O: data in, renderables out.

Charts are drawn with the eight block heights (▁▂▃▄▅▆▇█) per column: values are bucketed into
as many columns as the width allows (the last value of each bucket), so a million-sample curve
draws in a fixed time.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.console import Group, RenderableType
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from velocimex_cli.engine.backtest.metrics import ANNUALISED

BLOCKS = " ▁▂▃▄▅▆▇█"
SHADES = " ░▒▓█"

REPORT_ROWS: tuple[tuple[str, str], ...] = (
    ("trading_return", "trading return (strategy)"),
    ("trading_pnl", "trading PnL"),
    ("inventory_pnl", "starting inventory, marked"),
    ("total_return", "total return"),
    ("buy_and_hold_return", "buy and hold (same period)"),
    ("mean_return_per_period", "mean return per period"),
    ("volatility_per_period", "volatility per period"),
    ("sharpe_per_period", "Sharpe per period"),
    ("sortino_per_period", "Sortino per period"),
    ("annualised_return", "annualised return"),
    ("annualised_volatility", "annualised volatility"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("calmar", "Calmar"),
    ("max_drawdown", "max drawdown"),
    ("max_drawdown_duration_seconds", "max drawdown duration (s)"),
    ("trades", "trades (round trips)"),
    ("fills", "fills"),
    ("win_rate", "win rate"),
    ("profit_factor", "profit factor"),
    ("expectancy", "expectancy"),
    ("best_trade", "best trade"),
    ("worst_trade", "worst trade"),
    ("average_trade", "average trade"),
    ("fees_paid", "fees paid"),
    ("exposure", "exposure"),
    ("fill_ratio", "fill ratio"),
    ("final_inventory", "final inventory"),
    ("spread_captured", "spread captured"),
    ("inventory_min", "inventory min"),
    ("inventory_max", "inventory max"),
)
PERCENT = {
    "trading_return",
    "mean_return_per_period",
    "volatility_per_period",
    "total_return",
    "annualised_return",
    "annualised_volatility",
    "max_drawdown",
    "win_rate",
    "exposure",
    "fill_ratio",
    "buy_and_hold_return",
}


class RateColumn(ProgressColumn):
    """Events (or runs) per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-/s" if speed is None else f"{speed:,.0f}/s", style="cyan")


SIGNED = {"trading_return", "trading_pnl", "total_return", "expectancy", "average_trade"}
SIGNIFICANT = 4  # digits a small figure keeps in a table: enough to rank runs


def _rankable(value: Decimal) -> Decimal:
    """At least two decimals, and SIGNIFICANT digits of a figure below 1 (0.0001234, not 0.00)."""
    if not value:
        return value.quantize(Decimal("0.01"))
    exponent = min(-2, value.adjusted() - SIGNIFICANT + 1)
    return value.quantize(Decimal(1).scaleb(exponent))


def _percent(value: Decimal) -> str:
    return f"{_rankable(value * 100):f}%"


def duration_text(seconds: int) -> str:
    """3600 -> 1h, 5400 -> 1h30m, 90 -> 1m30s, 864000 -> 10d."""
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts[:2])


def _value(key: str, value: Any, metrics: dict[str, Any] | None = None) -> Text:
    if value is None:
        if key in ANNUALISED and metrics is not None and metrics.get("annualised") is False:
            run = duration_text(int(metrics.get("run_seconds") or 0))
            return Text(f"n/a (run of {run})", style="dim")
        return Text("-", style="dim")
    if key in PERCENT and isinstance(value, Decimal | int):
        text = _percent(Decimal(value))
    elif isinstance(value, Decimal) and key in RATIOS:
        text = f"{_rankable(value):f}"
    elif isinstance(value, Decimal):
        text = f"{value:f}"
    else:
        text = str(value)
    style = ""
    if isinstance(value, Decimal | int) and key in SIGNED:
        style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(text, style=style)


RATIOS = {
    "sharpe", "sortino", "calmar", "sharpe_per_period", "sortino_per_period", "profit_factor",
    "expectancy", "average_trade",
}  # fmt: skip


def metrics_table(metrics: dict[str, Any], title: str | None = None) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in REPORT_ROWS:
        if key in metrics:
            table.add_row(label, _value(key, metrics[key], metrics))
    return table


def comparison_table(sections: dict[str, dict[str, Any]]) -> Table:
    """Metrics side by side (in-sample | out-of-sample, or a run and its lag check)."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    for name in sections:
        table.add_column(name, justify="right")
    for key, label in REPORT_ROWS:
        if any(key in s for s in sections.values()):
            table.add_row(label, *(_value(key, s.get(key), s) for s in sections.values()))
    return table


def bucket(values: Sequence[Decimal], width: int) -> list[Decimal]:
    if len(values) <= width:
        return list(values)
    out = []
    for column in range(width):
        index = (column + 1) * len(values) // width - 1
        out.append(values[index])
    return out


def sparkline(values: Sequence[Decimal], width: int, height: int = 8, style: str = "cyan") -> Text:
    """A block chart `height` rows high; the top row first. Values are scaled min..max."""
    columns = bucket(values, max(1, width))
    text = Text()
    if not columns:
        return text
    low, high = min(columns), max(columns)
    span = high - low
    levels = height * 8
    scaled = [int((v - low) / span * levels) if span else levels // 2 for v in columns]
    for row in range(height, 0, -1):
        floor = (row - 1) * 8
        line = "".join(BLOCKS[max(0, min(8, s - floor))] for s in scaled)
        text.append(line + "\n", style=style)
    return text


def equity_chart(
    equity: Sequence[Decimal], drawdowns: Sequence[Decimal], width: int
) -> RenderableType:
    chart_width = max(10, width - 2)
    parts: list[RenderableType] = []
    if equity:
        parts.append(Text(f"strategy equity  {min(equity):f} .. {max(equity):f}", style="bold"))
        parts.append(sparkline(equity, chart_width, height=8, style="green"))
    if drawdowns:
        worst = max(drawdowns)
        parts.append(Text(f"drawdown  0 .. -{_percent(worst)}", style="bold"))
        parts.append(sparkline([-d for d in drawdowns], chart_width, height=4, style="red"))
    return Group(*parts)


# A sweep's figures that give way first on a narrow screen, in this order (the ranking
# metric, the run's number and its parameters always stay).
SWEEP_SPARE = (
    "max_drawdown", "oos trading_return", "trading_return", "sharpe", "sharpe_per_period",
    "total_return", "trades",
)  # fmt: skip


def _sweep_columns(
    columns: list[str], texts: list[dict[str, Text]], fixed: list[int], metric: str, width: int
) -> list[str]:
    """The figure columns that fit `width` (Rich's default box: each column its widest cell
    plus a space each side, and a rule between and around them), dropping SWEEP_SPARE's in
    order rather than have Rich cut every header to make room."""
    widths = {c: max([len(c), *(len(row[c]) for row in texts if c in row)]) for c in columns}
    kept = list(columns)

    def total() -> int:
        cells = [*fixed, *(widths[c] for c in kept)]
        return sum(w + 2 for w in cells) + len(cells) + 1

    for spare in SWEEP_SPARE:
        if total() <= width:
            break
        if spare in kept and spare != metric:
            kept.remove(spare)
    return kept


def sweep_table(
    rows: Sequence[dict[str, Any]], names: Sequence[str], metric: str, width: int | None = None
) -> Table:
    """One row per run, in the order given (ranked by `metric`), with the in-sample and, after
    --split, the out-of-sample figures; a skipped or failed run says why. Within `width`, the
    figures least needed to compare runs give way first (SWEEP_SPARE)."""
    shown = [metric, "trading_return", "total_return", "sharpe", "max_drawdown", "trades"]
    if all(not r.get("metrics") or r["metrics"].get("annualised") is False for r in rows):
        shown[3] = "sharpe_per_period"  # a short run: the annualised Sharpe is n/a everywhere
    in_sample = list(dict.fromkeys(shown))
    split = any(r.get("out_of_sample") for r in rows)
    out_of_sample = [(f"oos {c}", c) for c in (metric, "trading_return")] if split else []
    columns = [*in_sample, *(label for label, _c in out_of_sample)]
    lines: list[tuple[str, list[str], dict[str, Text]]] = []
    for rank, row in enumerate(rows, 1):
        params = [str(row["params"].get(n)) for n in names]
        if row.get("skipped") or row.get("failed"):
            why = row.get("skipped") or row.get("failed")
            label = "skipped" if row.get("skipped") else "failed"
            lines.append(("-", params, {"why": Text(f"{label}: {why}", style="yellow")}))
            continue
        metrics = row["metrics"]
        outside = row.get("out_of_sample") or {}
        texts = {c: _value(c, metrics.get(c), metrics) for c in in_sample}
        texts.update({label: _value(c, outside.get(c), outside) for label, c in out_of_sample})
        lines.append((str(rank), params, texts))
    if width is not None:
        fixed = [max(len("#"), len(str(len(rows))))]
        fixed += [max([len(n), *(len(p[i]) for _r, p, _t in lines)]) for i, n in enumerate(names)]
        columns = _sweep_columns(columns, [t for *_, t in lines], fixed, metric, width)
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for column in columns:
        table.add_column(column, justify="right")
    for rank_label, params, texts in lines:
        if "why" in texts:  # the reason in the first figure's place, the others empty
            table.add_row(rank_label, *params, texts["why"], *[Text("")] * (len(columns) - 1))
        else:
            table.add_row(rank_label, *params, *(texts[c] for c in columns))
    return table


def heatmap(rows: Sequence[dict[str, Any]], x: str, y: str, metric: str) -> RenderableType:
    """The metric over two swept parameters: one cell per (x, y), shaded low -> high."""
    xs = sorted({r["params"][x] for r in rows}, key=Decimal)
    ys = sorted({r["params"][y] for r in rows}, key=Decimal)
    values = {
        (r["params"][x], r["params"][y]): r["metrics"].get(metric) for r in rows if "metrics" in r
    }
    known = [v for v in values.values() if v is not None]
    low = min(known) if known else Decimal(0)
    high = max(known) if known else Decimal(0)
    span = high - low
    table = Table(title=f"{metric} by {y} (rows) and {x} (columns)", show_header=True)
    table.add_column(f"{y} \\ {x}", justify="right")
    for value in xs:
        table.add_column(str(value), justify="center")
    for yv in ys:
        cells = []
        for xv in xs:
            value = values.get((xv, yv))
            if value is None:
                cells.append(Text("  ·  ", style="dim"))
                continue
            level = int((value - low) / span * 4) if span else 2
            style = ("red", "red", "yellow", "green", "bold green")[level]
            cells.append(Text(SHADES[level] * 2 + f" {_value(metric, value).plain}", style=style))
        table.add_row(str(yv), *cells)
    return table
