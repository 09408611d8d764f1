"""`vmx strategy list` and `vmx strategy deploy STRATEGY_ID --exchange E --symbol S --param k=v`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Strategies: list them, deploy one on an instrument.")


@dataclass
class ListOptions:
    output: str | None


@dataclass
class DeployOptions:
    strategy_id: str
    exchange: str
    symbol: str
    params: list[str] = field(default_factory=list)
    output: str | None = None


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; JSON values (numbers, true, lists) are parsed, others kept as text."""
    from velocimex_cli.wire import jsonfmt
    from velocimex_cli.wire.errors import InvalidParameter

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter("param", pair, f"--param must look like key=value, not {pair!r}")
        try:
            params[key.strip()] = jsonfmt.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


def run_list(factory: Factory, opts: ListOptions) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import table_for

        return table_for("strategies", ("strategy_id", "name"))(payload)

    emit(factory.io, factory.client().strategies(), factory.output_format(opts.output), table)


def run_deploy(factory: Factory, opts: DeployOptions) -> None:
    from velocimex_cli.output.formats import emit

    params = parse_params(opts.params)
    data = factory.client().deploy_strategy(opts.strategy_id, opts.exchange, opts.symbol, params)

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import detail_table

        return detail_table(payload) if isinstance(payload, dict) else payload

    emit(factory.io, data, factory.output_format(opts.output), table)


@app.command("list")
def list_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """The strategies available to deploy."""
    fmt = output_format(json, output)
    execute(ctx, run_list, ListOptions(fmt), output=fmt)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    strategy_id: str = typer.Argument(..., help="The strategy's id (see `vmx strategy list`)."),
    exchange: str = typer.Option(..., "--exchange", "-e"),
    symbol: str = typer.Option(..., "--symbol", "-s"),
    param: list[str] = typer.Option([], "--param", "-p", help="key=value, repeatable."),
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Deploy a strategy on an instrument."""
    fmt = output_format(json, output)
    opts = DeployOptions(strategy_id, exchange, symbol, list(param), fmt)
    execute(ctx, run_deploy, opts, output=fmt)
