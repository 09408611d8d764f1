"""`vmx backtest STRATEGY (--data FILE | --simulate DURATION) ...`: a strategy on recorded or
simulated markets, through the engine's own matching and fees; `--sweep` searches parameters.

The run happens in this process (or in worker processes / on a Dask cluster for sweeps) on a
fresh in-memory engine: no API server is involved, and nothing is sent anywhere.

This module holds the command; a single run is backtest_single's, a sweep backtest_sweep's,
the options and what both derive from them backtest_options'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    JsonFlag,
    OutputOption,
    ParamOption,
    output_format,
    sub_app,
)

if TYPE_CHECKING:
    from velocimex_cli.cli.backtest_options import BacktestCommand
    from velocimex_cli.cli.factory import Factory

app = sub_app("Backtest a strategy on a recording, a CSV of trades or a simulated market.")


def run_backtest(factory: Factory, opts: BacktestCommand) -> int | None:
    from velocimex_cli.cli.backtest_options import backtest_inputs
    from velocimex_cli.cli.strategy_params import parse_params

    params = parse_params(opts.params)
    strategy, data = backtest_inputs(opts)
    fmt = factory.output_format(opts.output)
    if opts.sweeps:
        from velocimex_cli.cli.backtest_sweep import run_sweep

        return run_sweep(factory, opts, strategy, data, params, fmt)
    from velocimex_cli.cli.backtest_single import run_single

    return run_single(factory, opts, strategy, data, params, fmt)


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
        str | None,
        typer.Option(
            "--exchange",
            "-e",
            autocompletion=completers.exchanges,
            help="The instrument's exchange (--simulate needs it; else the data's).",
        ),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option(
            "--symbol",
            "-s",
            autocompletion=completers.symbols,
            help="The instrument's symbol (--simulate needs it; else the data's).",
        ),
    ] = None,
    param: ParamOption = None,
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
    from velocimex_cli.cli.backtest_options import BacktestCommand

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
