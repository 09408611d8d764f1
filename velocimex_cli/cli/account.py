"""`vmx account balance` and `vmx account positions`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Your account: balances and positions.")


@dataclass
class AccountOptions:
    output: str | None


def run_balance(factory: Factory, opts: AccountOptions) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import BALANCE_COLUMNS, table_for

        return table_for("balances", BALANCE_COLUMNS)(payload)

    emit(factory.io, factory.client().balance(), factory.output_format(opts.output), table)


def run_positions(factory: Factory, opts: AccountOptions) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import POSITION_COLUMNS, table_for

        return table_for("positions", POSITION_COLUMNS)(payload)

    emit(factory.io, factory.client().positions(), factory.output_format(opts.output), table)


@app.command("balance")
def balance_command(
    ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None
) -> None:
    """Balances per asset: total, available, locked by open orders."""
    fmt = output_format(json, output)
    execute(ctx, run_balance, AccountOptions(fmt), output=fmt)


@app.command("positions")
def positions_command(
    ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None
) -> None:
    """Positions per instrument with realized and unrealized PnL."""
    fmt = output_format(json, output)
    execute(ctx, run_positions, AccountOptions(fmt), output=fmt)
