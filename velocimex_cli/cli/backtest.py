"""`vmx backtest STRATEGY (--data FILE | --simulate DURATION) ...`: a strategy on recorded or
simulated markets, through the engine's own matching and fees; `--sweep` searches parameters.

The run happens in this process (or in worker processes / on a Dask cluster for sweeps) on a
fresh in-memory engine: no API server is involved, and nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.backtest.data import MarketData
    from velocimex_cli.engine.backtest.session import DataRef, StrategyRef

app = sub_app("Backtest a strategy on a recording, a CSV of trades or a simulated market.")

CHART_COLUMNS_OFF_TERMINAL = 80
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


@dataclass
class BacktestCommand:
    strategy: str
    data: str | None
    simulate: str | None
    seed: int
    exchange: str | None
    symbol: str | None
    params: list[str] = field(default_factory=list)
    latency_ms: int = 0
    fill_model: str = "queue"
    sample_seconds: int = 0
    funds: list[str] = field(default_factory=list)
    output: str | None = None
    trades_file: str | None = None
    lag_check: bool = False
    sweeps: list[str] = field(default_factory=list)
    metric: str = "sharpe"
    jobs: int | None = None
    split: str | None = None
    cluster: str | None = None
    cache: bool = True
    annualize: bool = False


def _funds(pairs: list[str]) -> dict[str, Decimal] | None:
    from velocimex_cli.wire.errors import InvalidParameter
    from velocimex_cli.wire.numbers import parse_decimal

    if not pairs:
        return None
    funds: dict[str, Decimal] = {}
    for pair in pairs:
        asset, sep, amount = pair.partition("=")
        value = parse_decimal(amount)
        if not sep or not asset.strip() or value is None or value < 0:
            raise InvalidParameter(
                "cash", pair, f"--cash must be ASSET=AMOUNT, e.g. USDT=10000, not {pair!r}"
            )
        funds[asset.strip().upper()] = value
    return funds


def _split(text: str | None) -> str | None:
    from velocimex_cli.wire.errors import InvalidParameter
    from velocimex_cli.wire.numbers import parse_decimal

    if text is None:
        return None
    value = parse_decimal(text)
    if value is None or not Decimal("0") < value < Decimal("1"):
        raise InvalidParameter(
            "split", text, "--split is the in-sample share, between 0 and 1 (e.g. 0.7)"
        )
    return str(value)


def _inputs(opts: BacktestCommand) -> tuple[StrategyRef, DataRef]:
    from velocimex_cli.engine.backtest.generate import parse_duration
    from velocimex_cli.engine.backtest.session import data_ref, resolve_strategy
    from velocimex_cli.wire.errors import InvalidParameter

    if (opts.data is None) == (opts.simulate is None):
        raise InvalidParameter(
            "data",
            opts.data,
            "give the market: --data FILE (a recording or a CSV of trades) "
            "or --simulate DURATION (the engine's seeded simulator)",
        )
    strategy = resolve_strategy(opts.strategy)
    seconds = parse_duration(opts.simulate) if opts.simulate is not None else 0
    return strategy, data_ref(opts.data, seconds, opts.seed, opts.exchange, opts.symbol)


def _spec_options(opts: BacktestCommand, strategy: StrategyRef, data: DataRef) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "data": asdict(data),
        "source": strategy.source,
        "latency_ms": opts.latency_ms,
        "fill_model": opts.fill_model,
        "sample_seconds": opts.sample_seconds,
        "funds": _funds(opts.funds),
        "split": _split(opts.split),
        "annualize": opts.annualize,
    }


def run_backtest(factory: Factory, opts: BacktestCommand) -> int | None:
    from velocimex_cli.cli.strategy import parse_params

    params = parse_params(opts.params)
    strategy, data = _inputs(opts)
    fmt = factory.output_format(opts.output)
    if opts.sweeps:
        return _run_sweep(factory, opts, strategy, data, params, fmt)
    return _run_single(factory, opts, strategy, data, params, fmt)


def _progress(factory: Factory, label: str) -> Any:
    """A bar of events (or seconds) on stderr when it is a terminal (None otherwise)."""
    if not factory.io.is_stderr_tty:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from velocimex_cli.cli.progress_bar import stderr_progress
    from velocimex_cli.render.backtest_report import RateColumn

    return stderr_progress(
        factory,
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )


def _simulated(factory: Factory, opts: BacktestCommand, data: DataRef) -> MarketData:
    """The generated market, with a bar of simulated seconds (rate, ETA) on a terminal."""
    from velocimex_cli.engine.backtest.generate import STEP_MICROS, simulate

    label = f"simulating {opts.simulate} of {data.exchange} {data.symbol}, seconds"
    bar = _progress(factory, label)
    if bar is None:
        return simulate((data.exchange, data.symbol), data.simulate_seconds, data.seed)
    with bar:
        task = bar.add_task("simulate", total=data.simulate_seconds)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done * STEP_MICROS // 1_000_000)

        return simulate(
            (data.exchange, data.symbol), data.simulate_seconds, data.seed, on_step=progress
        )


def _run_single(
    factory: Factory,
    opts: BacktestCommand,
    strategy: StrategyRef,
    data: DataRef,
    params: dict[str, Any],
    fmt: str,
) -> int | None:
    from velocimex_cli.engine.backtest import runner
    from velocimex_cli.engine.backtest.session import (
        collapsed,
        load_data,
        split_data,
        strategy_class,
    )

    cls = strategy_class(strategy)
    cls.validate(params)
    options = runner.BacktestOptions(
        exchange=data.exchange,
        symbol=data.symbol,
        params=params,
        latency_ms=opts.latency_ms,
        fill_model=opts.fill_model,
        sample_seconds=opts.sample_seconds,
        funds=_funds(opts.funds),
        annualize=opts.annualize,
    )
    options.check()
    split = _split(opts.split)
    market = load_data(data) if data.path is not None else _simulated(factory, opts, data)
    bar = _progress(factory, "backtest")
    with bar if bar is not None else contextlib.nullcontext():
        task = bar.add_task("replay", total=len(market.events)) if bar is not None else None

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.update(task, completed=done, total=total)

        if split is not None:
            inside, outside = split_data(market, Decimal(split))
            result = runner.run(cls, inside, options, progress=progress)
            out_result = runner.run(cls, outside, options, progress=progress)
        else:
            result = runner.run(cls, market, options, progress=progress)
            out_result = None
        lagged = None
        if opts.lag_check:
            lag_options = runner.BacktestOptions(**{**options.__dict__, "extra_events": 1})
            lagged = runner.run(cls, market if split is None else inside, lag_options)
    report = dict(result.report)
    report["data"] = data.describe()
    if out_result is not None:
        report["split"] = split
        report["out_of_sample"] = out_result.report["metrics"]
    if lagged is not None:
        warn = collapsed(result.report["metrics"], lagged.report["metrics"])
        report["lag_check"] = {"metrics": lagged.report["metrics"], "collapsed": warn}
    report["report_hash"] = runner.report_hash(report)
    if opts.trades_file:
        _write_trades(Path(opts.trades_file), result.fills)
    if fmt in ("json", "ndjson"):
        from velocimex_cli.wire import jsonfmt

        factory.io.write(jsonfmt.canonical(report) + "\n")
    elif fmt == "csv":
        from velocimex_cli.output.formats import to_csv

        factory.io.write(to_csv([{"metric": k, "value": v} for k, v in report["metrics"].items()]))
    else:
        _print_report(factory, report, result)
    if report.get("strategy_error"):
        factory.io.status(
            f"warning: the strategy failed during the run: {report['strategy_error']}"
        )
    if report.get("orders_rejected"):
        why = f"; the first on arrival: {report['first_rejection']}"
        factory.io.status(
            f"warning: {report['orders_rejected']} of the strategy's orders were rejected by the"
            f" engine{why if report.get('first_rejection') else ''} (the strategy's log has each)"
        )
    if lagged is not None and report["lag_check"]["collapsed"]:
        factory.io.status(
            "warning: with one more event of latency the result collapses "
            f"(trading return {result.report['metrics']['trading_return']} -> "
            f"{lagged.report['metrics']['trading_return']}): the strategy may live on look-ahead "
            "or on fills a real queue would not give"
        )
    return None


def _write_trades(path: Path, fills: list[dict[str, Any]]) -> None:
    from velocimex_cli.output.formats import to_csv
    from velocimex_cli.wire.errors import InvalidParameter

    columns = [
        "timestamp",
        "order_id",
        "trade_id",
        "side",
        "price",
        "quantity",
        "fee",
        "fee_asset",
        "liquidity",
    ]
    text = to_csv(fills) if fills else ",".join(columns) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidParameter(
            "trades", str(path), f"cannot write {path}: {exc.strerror}"
        ) from None


def _print_report(factory: Factory, report: dict[str, Any], result: Any) -> None:
    from rich.text import Text

    from velocimex_cli.render.backtest_report import (
        comparison_table,
        equity_chart,
        metrics_table,
    )

    console = factory.io.console()
    period = report["period"]
    console.print(
        Text(
            f"{report['strategy_id']} on {report['options']['exchange']} "
            f"{report['options']['symbol']}  {period['start']} -> {period['end']}  "
            f"({period['events']} events)",
            style="bold",
        )
    )
    if report.get("strategy_error"):
        console.print(Text(f"strategy failed: {report['strategy_error']}", style="red"))
    sections = {"result": report["metrics"]}
    if "out_of_sample" in report:
        sections = {"in-sample": report["metrics"], "out-of-sample": report["out_of_sample"]}
    if "lag_check" in report:
        sections["+1 event latency"] = report["lag_check"]["metrics"]
    if len(sections) > 1:
        console.print(comparison_table(sections))
    else:
        console.print(metrics_table(report["metrics"]))
    # Off a terminal the console is unbounded (tables never wrap in a pipe); a chart is not.
    width = console.width if factory.io.is_stdout_tty else CHART_COLUMNS_OFF_TERMINAL
    console.print(equity_chart(result.equity, result.drawdowns, width))
    console.print(Text(f"report hash {report['report_hash']}", style="dim"))


def _run_sweep(
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
    bar = _progress(factory, f"sweep ({len(specs)} runs)")
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
    console.print(sweep_table(ranked, names, metric))
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


@app.command()
def backtest(
    ctx: typer.Context,
    strategy: Annotated[
        str,
        typer.Argument(
            help="A built-in strategy id (`vmx strategy list`) or a strategy .py file.",
            autocompletion=completers.strategies_and_files,
        ),
    ],
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", help="A recording (vmx stream --record) or a CSV of trades."),
    ] = None,
    simulate: Annotated[
        str | None,
        typer.Option("--simulate", help="No file: simulate this long (90s, 15m, 2h, 1d)."),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="The simulator's seed (with --simulate).")
    ] = 42,
    exchange: Annotated[
        str | None, typer.Option("--exchange", "-e", autocompletion=completers.exchanges)
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", autocompletion=completers.symbols)
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable.")
    ] = None,
    latency: Annotated[
        int, typer.Option("--latency", help="Order latency in ms of simulated time.")
    ] = 0,
    fill_model: Annotated[
        str, typer.Option("--fill-model", help="queue (default: waits its turn) or touch.")
    ] = "queue",
    sample: Annotated[
        int, typer.Option("--sample", help="Equity sampling interval, s (0: ~1000 points).")
    ] = 0,
    cash: Annotated[
        list[str] | None,
        typer.Option(
            "--cash", help="Starting balance ASSET=AMOUNT, repeatable (default: 100000 quote)."
        ),
    ] = None,
    trades: Annotated[
        str | None, typer.Option("--trades", help="Write every fill to this CSV file.")
    ] = None,
    lag_check: Annotated[
        bool,
        typer.Option(
            "--lag-check",
            help="Rerun with one more event of latency; warn if the result collapses.",
        ),
    ] = False,
    sweep_: Annotated[
        list[str] | None,
        typer.Option("--sweep", help="NAME=START:STOP:STEP or NAME=A,B,C; repeatable."),
    ] = None,
    metric: Annotated[
        str,
        typer.Option(
            "--rank",
            "--metric",
            help="Rank a sweep by any metric of the report"
            " (sharpe, trading_return, max_drawdown…).",
        ),
    ] = "sharpe",
    annualize: Annotated[
        bool,
        typer.Option(
            "--annualize",
            help="Annualised return, volatility, Sharpe, Sortino, Calmar"
            " even for a run under 30 days.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="Local worker processes (default: one per core)."),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="In-sample share, e.g. 0.7: report both halves.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="Run a sweep on a Dask scheduler, tcp://HOST:8786."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Recompute every sweep run.")
    ] = False,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Backtest STRATEGY on recorded or simulated markets; --sweep searches its parameters."""
    fmt = output_format(json, output)
    opts = BacktestCommand(
        strategy=strategy,
        data=data,
        simulate=simulate,
        seed=seed,
        exchange=exchange,
        symbol=symbol,
        params=list(param or []),
        latency_ms=latency,
        fill_model=fill_model,
        sample_seconds=sample,
        funds=list(cash or []),
        output=fmt,
        trades_file=trades,
        lag_check=lag_check,
        sweeps=list(sweep_ or []),
        metric=metric,
        jobs=jobs,
        split=split,
        cluster=cluster,
        cache=not no_cache,
        annualize=annualize,
    )
    execute(ctx, run_backtest, opts, output=fmt)
