"""One backtest run (`vmx backtest` without --sweep): the replay (both halves with --split,
again one event later with --lag-check), its report as JSON, CSV or tables and an equity
chart, and its fills to a CSV file with --trades."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.backtest_options import progress_bar, split_share, starting_funds

if TYPE_CHECKING:
    from velocimex_cli.cli.backtest_options import BacktestCommand
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.backtest.data import MarketData
    from velocimex_cli.engine.backtest.session import DataRef, StrategyRef

CHART_COLUMNS_OFF_TERMINAL = 80


def _simulated(factory: Factory, opts: BacktestCommand, data: DataRef) -> MarketData:
    """The generated market, with a bar of simulated seconds (rate, ETA) on a terminal."""
    from velocimex_cli.engine.backtest.generate import STEP_MICROS, simulate

    label = f"simulating {opts.simulate} of {data.exchange} {data.symbol}, seconds"
    bar = progress_bar(factory, label)
    if bar is None:
        return simulate((data.exchange, data.symbol), data.simulate_seconds, data.seed)
    with bar:
        task = bar.add_task("simulate", total=data.simulate_seconds)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done * STEP_MICROS // 1_000_000)

        return simulate(
            (data.exchange, data.symbol), data.simulate_seconds, data.seed, on_step=progress
        )


def run_single(
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
        funds=starting_funds(opts.funds),
        annualize=opts.annualize,
    )
    options.check()
    split = split_share(opts.split)
    market = load_data(data) if data.path is not None else _simulated(factory, opts, data)
    bar = progress_bar(factory, "backtest")
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
