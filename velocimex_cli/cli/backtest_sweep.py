"""A parameter sweep (`vmx backtest --sweep`): the grid's runs in worker processes or on a Dask
cluster, from the result cache where it has them, ranked by a metric of the report; as JSON,
NDJSON, CSV, or a table and (two axes) a heatmap."""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.backtest_options import progress_bar, split_share, starting_funds

if TYPE_CHECKING:
    from velocimex_cli.cli.backtest_options import BacktestCommand
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.backtest.session import DataRef, StrategyRef

# Metrics where less is better: a sweep ranked by one of them lists the smallest first.
LOWER_IS_BETTER = frozenset(
    {"max_drawdown", "max_drawdown_duration_seconds", "fees_paid", "annualised_volatility",
     "volatility_per_period"}
)  # fmt: skip
# An annualised metric a short run does not have ranks by its per-period twin (same order:
# the annualisation factor is the same for every run of a sweep).
PER_PERIOD = {"sharpe": "sharpe_per_period", "sortino": "sortino_per_period",
              "annualised_return": "trading_return",
              "annualised_volatility": "volatility_per_period"}  # fmt: skip


def _spec_options(opts: BacktestCommand, strategy: StrategyRef, data: DataRef) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "data": asdict(data),
        "source": strategy.source,
        "latency_ms": opts.latency_ms,
        "fill_model": opts.fill_model,
        "sample_seconds": opts.sample_seconds,
        "funds": starting_funds(opts.funds),
        "split": split_share(opts.split),
        "annualize": opts.annualize,
    }


def run_sweep(
    factory: Factory,
    opts: BacktestCommand,
    strategy: StrategyRef,
    data: DataRef,
    params: dict[str, Any],
    fmt: str,
) -> int | None:
    from velocimex_cli.engine.backtest.recording import data_instrument
    from velocimex_cli.engine.backtest.session import run_spec, strategy_class
    from velocimex_cli.engine.backtest.sweep import ResultCache, RunSpec, grid, parse_axis, sweep
    from velocimex_cli.engine.drivers.strategies.event_values import instrument_spec
    from velocimex_cli.paths import cache_dir
    from velocimex_cli.wire.errors import ApiError, InvalidParameter

    if opts.lag_check:
        raise InvalidParameter(
            "lag_check", True, "--lag-check runs with a single backtest, not a sweep"
        )
    axes = [parse_axis(text) for text in opts.sweeps]
    cls = strategy_class(strategy)
    points = grid(axes)
    path = None if data.path is None else Path(data.path)
    instrument = instrument_spec(data_instrument(path, data.exchange, data.symbol))
    skipped: list[dict[str, Any]] = []
    runnable = []
    for point in points:
        try:
            cls.check(cls.validate({**params, **point}), instrument)
        except ApiError as exc:  # this combination only: the others still run
            skipped.append({"params": {**params, **point}, "skipped": exc.message})
        else:
            runnable.append(point)
    options = _spec_options(opts, strategy, data)
    specs = [
        RunSpec(
            strategy.strategy_id, strategy.source_hash, {**params, **point}, options, data.digest
        )
        for point in runnable
    ]
    cache = None if not opts.cache else ResultCache(cache_dir() / "backtests")
    workers = opts.jobs or os.cpu_count() or 1
    bar = progress_bar(factory, f"sweep ({len(specs)} runs)")
    with bar if bar is not None else contextlib.nullcontext():
        task = bar.add_task("runs", total=len(specs)) if bar is not None else None
        cached_count = [0]

        def progress(done: int, total: int, cached: int) -> None:
            cached_count[0] = cached
            if bar is not None:
                bar.update(task, completed=done, total=total)

        rows = sweep(
            run_spec, specs, cache, workers=workers, cluster=opts.cluster, progress=progress
        )
    names = [axis.name for axis in axes]
    rows = [*rows, *skipped]
    metric = _rank_metric(opts.metric, rows)
    ranked = rank(rows, metric)
    if cached_count[0]:
        factory.io.status(
            f"{cached_count[0]} of {len(specs)} runs from the cache; "
            f"{len(specs) - cached_count[0]} computed."
        )
    if fmt in ("json", "ndjson"):
        from velocimex_cli.wire import jsonfmt

        lines = [jsonfmt.canonical(r) for r in ranked]
        if fmt == "json":
            factory.io.write("[" + ",".join(lines) + "]\n")
        else:
            factory.io.write("".join(line + "\n" for line in lines))
        return None
    if fmt == "csv":
        from velocimex_cli.output.formats import to_csv

        flat = []
        for r in ranked:
            row = {**r["params"], **r.get("metrics", {})}
            for key, value in (r.get("out_of_sample") or {}).items():
                row[f"oos_{key}"] = value
            # A combination the strategy refused, or a run that failed, has no metrics: its
            # row says why (it used to end the command in a KeyError).
            row.update({key: r[key] for key in ("skipped", "failed") if key in r})
            flat.append(row)
        factory.io.write(to_csv(flat))
        return None
    from velocimex_cli.render.backtest_report import heatmap, sweep_table

    console = factory.io.console()
    console.print(sweep_table(ranked, names, metric, console.width))  # off a terminal: 10,000
    if len(names) == 2:
        console.print(heatmap(ranked, names[0], names[1], metric))
    left_out = [r for r in ranked if "metrics" not in r]
    if left_out:
        factory.io.status(
            f"{len(left_out)} of {len(ranked)} runs gave no result (listed as skipped or failed)"
        )
    return None


def _rank_metric(name: str, rows: list[dict[str, Any]]) -> str:
    """The metric to rank by: `name`, or its per-period twin when no run has the annualised
    one (runs shorter than 30 days without --annualize)."""
    from velocimex_cli.wire.errors import InvalidParameter

    reports = [r["metrics"] for r in rows if "metrics" in r]
    known = sorted({k for m in reports for k, v in m.items() if isinstance(v, Decimal | int)})
    if reports and name not in reports[0]:
        raise InvalidParameter(
            "rank", name, f"--rank is one of the report's metrics: {', '.join(known)}"
        )
    if reports and all(m.get(name) is None for m in reports) and name in PER_PERIOD:
        return PER_PERIOD[name]
    return name


def rank(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Best first by `metric` (smallest first where less is better); runs without the figure
    after those with it, and skipped or failed runs last, each in grid order."""
    lower = metric in LOWER_IS_BETTER

    def key(row: dict[str, Any]) -> tuple[int, Decimal]:
        if "metrics" not in row:
            return (2, Decimal(0))
        value = row["metrics"].get(metric)
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            return (1, Decimal(0))
        return (0, Decimal(value) if lower else -Decimal(value))

    return sorted(rows, key=key)
