"""`vmx strategy ...`: list, show, add, remove and deploy strategies; watch and stop deployments.

vmx strategy list | show ID | add FILE [--replace] | remove ID
vmx strategy deploy ID --exchange E --symbol S --param k=v
vmx strategy status [DEPLOYMENT_ID] | stop DEPLOYMENT_ID | logs DEPLOYMENT_ID [-f]

This module holds the commands; each imports its run function when it runs: the strategies
themselves are strategy_catalogue's, deployments strategy_deployments'.
"""

from __future__ import annotations

from typing import Annotated

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    FollowFlag,
    JsonFlag,
    OutputOption,
    ParamOption,
    output_format,
    sub_app,
)

app = sub_app("Strategies: list, add and deploy them; watch and stop deployments.")


@app.command("list")
def list_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """The strategies available to deploy (built-in and added)."""
    from velocimex_cli.cli.strategy_catalogue import ListOptions, run_list

    fmt = output_format(json, output)
    execute(ctx, run_list, ListOptions(output=fmt), output=fmt)


@app.command("show")
def show_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(
            help="The strategy's id (see `vmx strategy list`).",
            autocompletion=completers.strategy_ids,
        ),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """One strategy and its parameters: types, defaults and bounds."""
    from velocimex_cli.cli.strategy_catalogue import ShowOptions, run_show

    fmt = output_format(json, output)
    execute(ctx, run_show, ShowOptions(strategy_id=strategy_id, output=fmt), output=fmt)


@app.command("add")
def add_command(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(metavar="FILE", help="A Python file with one Strategy class.")
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace your account's user strategy of that id (it must exist)."
        ),
    ] = False,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Register a user strategy file with the engine (checked first: syntax, class, params).

    It belongs to your key's account: no other account sees, deploys or replaces it. Needs a
    key with the `strategies` permission (`vmx engine keys create --permissions
    read,trade,strategies`; the local profile's key has it).
    """
    from velocimex_cli.cli.strategy_catalogue import AddOptions, run_add

    fmt = output_format(json, output)
    execute(ctx, run_add, AddOptions(path=path, replace=replace, output=fmt), output=fmt)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(help="A user strategy's id.", autocompletion=completers.user_strategy_ids),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Remove one of your account's user strategies (stop its deployments first; needs the
    `strategies` permission)."""
    from velocimex_cli.cli.strategy_catalogue import RemoveOptions, run_remove

    fmt = output_format(json, output)
    execute(ctx, run_remove, RemoveOptions(strategy_id=strategy_id, output=fmt), output=fmt)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(
            help="The strategy's id (see `vmx strategy list`).",
            autocompletion=completers.strategy_ids,
        ),
    ],
    exchange: Annotated[
        str,
        typer.Option(
            "--exchange",
            "-e",
            help="Exchange to trade, e.g. BINANCE.",
            autocompletion=completers.exchanges,
        ),
    ],
    symbol: Annotated[
        str,
        typer.Option(
            "--symbol",
            "-s",
            help="Symbol to trade, e.g. BTC/USDT.",
            autocompletion=completers.symbols,
        ),
    ],
    param: ParamOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Deploy a strategy on an instrument; prints the deployment."""
    from velocimex_cli.cli.strategy_deployments import DeployOptions, run_deploy

    fmt = output_format(json, output)
    opts = DeployOptions(
        strategy_id=strategy_id,
        exchange=exchange,
        symbol=symbol,
        params=list(param or []),
        output=fmt,
    )
    execute(ctx, run_deploy, opts, output=fmt)


@app.command("status")
def status_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str | None,
        typer.Argument(
            help="One deployment (default: all).", autocompletion=completers.deployment_ids
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only deployments in this state (running, stopped, failed, ...)."
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Deployments: state, orders, fills, position, PnL, fees and the last error."""
    from velocimex_cli.cli.strategy_deployments import StatusOptions, run_status

    fmt = output_format(json, output)
    execute(
        ctx,
        run_status,
        StatusOptions(deployment_id=deployment_id, state=state, output=fmt),
        output=fmt,
    )


@app.command("stop")
def stop_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str,
        typer.Argument(
            help="The deployment to stop.", autocompletion=completers.live_deployment_ids
        ),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Stop a deployment: its on_stop runs, then its open orders are canceled."""
    from velocimex_cli.cli.strategy_deployments import StopOptions, run_stop

    fmt = output_format(json, output)
    execute(ctx, run_stop, StopOptions(deployment_id=deployment_id, output=fmt), output=fmt)


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str, typer.Argument(help="The deployment.", autocompletion=completers.deployment_ids)
    ],
    follow: FollowFlag = False,
    since: Annotated[
        int, typer.Option("--since", help="Only lines after this sequence number.")
    ] = 0,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """What a deployment logged (its own lines, its errors, starts and stops)."""
    from velocimex_cli.cli.strategy_deployments import LogsOptions, run_logs

    fmt = output_format(json, output)
    execute(
        ctx,
        run_logs,
        LogsOptions(deployment_id=deployment_id, follow=follow, since=since, output=fmt),
        output=fmt,
    )
