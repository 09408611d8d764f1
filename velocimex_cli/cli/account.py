"""`vmx account balance`, `vmx account positions` and `vmx account limits [set NAME VALUE]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Your account: balances, positions and risk limits.")


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
        from velocimex_cli.render.tables import positions_view

        return positions_view(payload)

    data = factory.client().positions()
    fmt = factory.output_format(opts.output)
    # --json is the whole payload (totals included); csv and ndjson are the position rows.
    if fmt in ("csv", "ndjson") and isinstance(data, dict):
        data = {"positions": data.get("positions", [])}
    emit(factory.io, data, fmt, table)


@dataclass
class LimitOptions:
    name: str
    value: str
    yes: bool
    output: str | None


LIMIT_NAMES = ("price_band_pct", "max_order_notional", "max_open_orders", "max_orders_per_second")
OFF_WORDS = ("none", "off", "null")
LIMIT_COLUMNS = ("limit", "value")


def _limits_table(payload: Any) -> Any:
    from velocimex_cli.render.tables import records_table

    rows = [
        {"limit": name, "value": "off" if value is None else value}
        for name, value in (payload or {}).items()
    ]
    return records_table(rows, LIMIT_COLUMNS)


def run_limits(factory: Factory, opts: AccountOptions) -> None:
    from velocimex_cli.output.formats import emit

    emit(factory.io, factory.client().limits(), factory.output_format(opts.output), _limits_table)


def run_set_limit(factory: Factory, opts: LimitOptions) -> None:
    """Change one limit; on a terminal ask first (--yes skips the question, never a limit)."""
    from velocimex_cli.cli.command_error import CommandError
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.numbers import parse_decimal

    name = opts.name.strip().lower().replace("-", "_")
    if name not in LIMIT_NAMES:
        raise CommandError(f"unknown limit {opts.name!r}; limits: {', '.join(LIMIT_NAMES)}")
    text = opts.value.strip()
    value: Any
    if text.lower() in OFF_WORDS:
        value = None
    else:
        value = parse_decimal(text)
        if value is None:
            raise CommandError(
                f"{name} must be a number (or `none` for no limit), not {opts.value!r}"
            )
    api = factory.client()
    current = api.limits().get(name)
    shown = "off" if value is None else value
    if not opts.yes:
        io = factory.io
        if not io.can_prompt:
            raise CommandError(
                f"not changing {name}: stdin is not a terminal to confirm; pass --yes",
                code="CONFIRMATION_REQUIRED",
            )
        was = "off" if current is None else current
        if not io.prompt_yes_no(f"Change {name} from {was} to {shown}?"):
            raise CommandError(
                "not changed: you declined", exit_code=ExitCode.UNEXPECTED, code="DECLINED"
            )
    data = api.set_limits({name: value})
    emit(factory.io, data, factory.output_format(opts.output), _limits_table)
    factory.io.status(f"{name} is now {'off' if data.get(name) is None else data.get(name)}.")


limits_app = sub_app(
    "Pre-trade risk limits, enforced by the engine: show them, or `set NAME VALUE`.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(limits_app, name="limits")


@limits_app.callback()
def limits_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """Your pre-trade risk limits (`off`: no limit)."""
    if ctx.invoked_subcommand is not None:
        return
    fmt = output_format(json, output)
    execute(ctx, run_limits, AccountOptions(output=fmt), output=fmt)


@limits_app.command("set")
def set_limit_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(LIMIT_NAMES)}.")],
    value: Annotated[str, typer.Argument(help="The new value, or `none` to switch the limit off.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Change one limit (asks for confirmation on a terminal)."""
    fmt = output_format(json, output)
    execute(
        ctx, run_set_limit, LimitOptions(name=name, value=value, yes=yes, output=fmt), output=fmt
    )


@app.command("balance")
def balance_command(
    ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None
) -> None:
    """Balances per asset: total, available, locked by open orders."""
    fmt = output_format(json, output)
    execute(ctx, run_balance, AccountOptions(output=fmt), output=fmt)


@app.command("positions")
def positions_command(
    ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None
) -> None:
    """Positions per instrument with realized and unrealized PnL."""
    fmt = output_format(json, output)
    execute(ctx, run_positions, AccountOptions(output=fmt), output=fmt)
