"""`vmx book EXCHANGE SYMBOL [--depth N]` (a snapshot) and `vmx ticker EXCHANGE SYMBOL...`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    ExchangeArgument,
    JsonFlag,
    OutputOption,
    SymbolArgument,
    WatchDurationOption,
    WatchFpsOption,
    output_format,
    sub_app,
)

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


DEFAULT_DEPTH = 20  # the API's default
MAX_DEPTH = 1000  # the API's largest


@dataclass
class BookOptions:
    exchange: str
    symbol: str
    depth: int | None
    output: str | None


@dataclass
class TickerOptions:
    exchange: str
    symbols: list[str]
    output: str | None


def run_book(factory: Factory, opts: BookOptions) -> None:
    from velocimex_cli.output.formats import emit
    from velocimex_cli.output.truncation import report_cut

    # Without --depth, ask for one level more than shown: if a side has it, the book was cut
    # and we say how to see more. A depth asked for is what is shown, and nothing is said.
    depth = opts.depth or DEFAULT_DEPTH
    probe = depth + 1 if opts.depth is None and depth < MAX_DEPTH else depth
    data = factory.client().order_book(opts.exchange, opts.symbol, probe)
    cut = any(len(data.get(side) or []) > depth for side in ("bids", "asks"))
    if cut:
        data = {**data, "bids": data["bids"][:depth], "asks": data["asks"][:depth]}

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import book_ladder

        return book_ladder(payload)

    fmt = factory.output_format(opts.output)
    if fmt in ("ndjson", "csv"):
        # A book's rows are its levels, each with its side.
        rows = [{"side": "ask", **level} for level in data.get("asks", [])]
        rows += [{"side": "bid", **level} for level in data.get("bids", [])]
        emit(factory.io, {"levels": rows}, fmt)
    else:
        emit(factory.io, data, fmt, table)
    if cut:
        report_cut(factory.io, depth, None, "--depth N", "levels per side")


def run_ticker(factory: Factory, opts: TickerOptions) -> None:
    from velocimex_cli.output.formats import emit

    api = factory.client()
    tickers = [api.ticker(opts.exchange, symbol) for symbol in opts.symbols]
    data: Any = tickers[0] if len(tickers) == 1 else {"tickers": tickers}

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import TICKER_COLUMNS, records_table

        return records_table(tickers, TICKER_COLUMNS)

    emit(factory.io, data, factory.output_format(opts.output), table)


def _fail(factory: Factory, problem: Exception) -> None:
    raise problem


book_app = sub_app("A snapshot of an order book.", no_args_is_help=False)
ticker_app = sub_app("Last price, best bid and ask, 24h volume.", no_args_is_help=False)


# The commands, each the only one of its app (the root loads them lazily).
@book_app.command("book")
def book_command(
    ctx: typer.Context,
    exchange: ExchangeArgument,
    symbol: SymbolArgument,
    depth: Annotated[
        int | None,
        typer.Option("--depth", "-d", min=1, max=1000, help="Levels a side (default 20)."),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Live: the `vmx watch` ladder (NDJSON off a terminal)."),
    ] = False,
    fps: WatchFpsOption = 10.0,
    chart: Annotated[bool, typer.Option("--chart", help="With --watch: the depth chart.")] = False,
    group: Annotated[
        int | None,
        typer.Option("--group", help="With --watch: aggregate levels by this many ticks."),
    ] = None,
    verify: Annotated[
        str,
        typer.Option("--verify", help="With --watch: checksum every delta, every frame or off."),
    ] = "frame",
    record: Annotated[
        str | None,
        typer.Option("--record", help="With --watch: record every message received to FILE."),
    ] = None,
) -> None:
    """A snapshot of an order book: asks above, bids below, best first."""
    fmt = output_format(json, output)
    if not watch and (chart or group is not None or record is not None or verify != "frame"):
        raise typer.BadParameter("--chart, --group, --verify and --record go with --watch")
    if watch:
        from velocimex_cli.cli.watch import WatchOptions, run_watch

        live = WatchOptions(
            exchange=exchange, symbol=symbol, fps=fps, verify=verify, record=record, chart=chart,
            group=group, depth=depth, output=fmt,
        )  # fmt: skip
        execute(ctx, run_watch, live, output=fmt)
        return
    execute(
        ctx,
        run_book,
        BookOptions(exchange=exchange, symbol=symbol, depth=depth, output=fmt),
        output=fmt,
    )


@ticker_app.command("ticker")
def ticker_command(
    ctx: typer.Context,
    exchange: Annotated[
        str | None,
        typer.Argument(help="Exchange, e.g. BINANCE.", autocompletion=completers.exchanges),
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Argument(help="One or more symbols.", autocompletion=completers.symbols),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="A live board, updated in place; then the arguments are EXCHANGE:SYMBOL ... "
            "(or EXCHANGE [SYMBOL ...]; none: every instrument). NDJSON off a terminal.",
        ),
    ] = False,
    fps: WatchFpsOption = 10.0,
    duration: WatchDurationOption = None,
) -> None:
    """Last price, best bid and ask, 24h volume."""
    if watch:
        from velocimex_cli.cli.ticker_watch import TickerWatchOptions, run_ticker_watch

        fmt = output_format(json, output)
        words = ([exchange] if exchange else []) + list(symbols or [])
        board = TickerWatchOptions(instruments=words, fps=fps, duration=duration, output=fmt)
        execute(ctx, run_ticker_watch, board, output=fmt)
        return
    if exchange is None or not symbols:
        from velocimex_cli.cli.command_error import CommandError

        problem = CommandError(
            "give an exchange and one or more symbols: vmx ticker EXCHANGE SYMBOL... "
            "(or a live board: vmx ticker --watch [EXCHANGE:SYMBOL ...])"
        )
        execute(ctx, _fail, problem)
        return
    fmt = output_format(json, output)
    execute(
        ctx, run_ticker, TickerOptions(exchange=exchange, symbols=symbols, output=fmt), output=fmt
    )
