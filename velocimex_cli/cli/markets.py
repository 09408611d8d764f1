"""`vmx markets status [EXCHANGE]` and `vmx markets list [EXCHANGE]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app

if TYPE_CHECKING:
    from rich.console import RenderableType

    from velocimex_cli.cli.factory import Factory

app = sub_app("Markets: session status and the instruments traded.")


@dataclass
class StatusOptions:
    output: str | None
    exchange: str | None = None


@dataclass
class ListOptions:
    exchange: str | None
    output: str | None


def run_status(factory: Factory, opts: StatusOptions) -> None:
    from velocimex_cli.output.columns import MARKET_STATUS_FIELDS
    from velocimex_cli.output.formats import emit

    data = factory.client().markets_status()
    if opts.exchange is not None:
        data = {"markets": _only_exchange(data.get("markets", []), opts.exchange)}

    def table(payload: object) -> RenderableType:
        from velocimex_cli.render.tables import market_status_table

        return market_status_table(payload)

    fmt = factory.output_format(opts.output)
    emit(factory.io, data, fmt, table, columns=MARKET_STATUS_FIELDS)


def _only_exchange(markets: list[dict[str, Any]], exchange: str) -> list[dict[str, Any]]:
    """The status of one exchange (named in any case), or INVALID_PARAMETER naming the known."""
    from velocimex_cli.wire.errors import InvalidParameter

    wanted = exchange.strip().upper()
    chosen = [m for m in markets if str(m.get("exchange", "")).upper() == wanted]
    if not chosen:
        known = ", ".join(str(m.get("exchange")) for m in markets)
        raise InvalidParameter(
            "exchange", exchange, f"no exchange {exchange!r} in the market status; known: {known}"
        )
    return chosen


def run_list(factory: Factory, opts: ListOptions) -> None:
    from velocimex_cli.output.formats import emit

    data = factory.client().markets(opts.exchange)

    def table(payload: object) -> RenderableType:
        from velocimex_cli.render.tables import MARKET_COLUMNS, MARKET_FIT, table_for

        return table_for("markets", MARKET_COLUMNS, MARKET_FIT)(payload)

    emit(factory.io, data, factory.output_format(opts.output), table)


@app.command("status")
def status_command(
    ctx: typer.Context,
    exchange: Annotated[
        str | None,
        typer.Argument(
            help="Only this exchange, e.g. NASDAQ.", autocompletion=completers.exchanges
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Whether each exchange (or the one named) is open.

    A mirrored exchange also shows its feed: the halt's reason, the venue's time of the last
    message, the source, its lag and reconnects (JSON and CSV carry them as the engine sends).
    """
    fmt = output_format(json, output)
    execute(ctx, run_status, StatusOptions(output=fmt, exchange=exchange), output=fmt)


@app.command("list")
def list_command(
    ctx: typer.Context,
    exchange: Annotated[
        str | None,
        typer.Argument(
            help="Only this exchange, e.g. BINANCE.", autocompletion=completers.exchanges
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """The instruments: symbol, tick size, lot size, minimum quantity and notional, and the
    maker and taker fee rates their fills pay (fee_source: the venue's own or the engine's)."""
    fmt = output_format(json, output)
    execute(ctx, run_list, ListOptions(exchange=exchange, output=fmt), output=fmt)
