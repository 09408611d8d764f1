"""`vmx candles EXCHANGE SYMBOL [--interval 1m] [--limit N] [--watch]`: the candles of an
instrument's trades, as the engine stores them.

On a terminal (and no --output): a candlestick chart as wide as the terminal (render/candles.py).
Off a terminal, or with -o/--json: the candles as rows (table, csv, json, ndjson) like the
other commands print their data. `--watch` redraws the chart as trades arrive (the market
stream's trades folded into the candles, client/candles.py), at most `--fps` frames a second;
off a terminal it prints the newest candle as NDJSON whenever it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
    from velocimex_cli.client.candles import LiveCandles

CHART_MAX_HEIGHT = 30  # lines of a chart printed once (a live one fills the screen)
WATCH_FPS = 4.0


def interval_names(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of --interval."""
    from velocimex_cli.wire.candles import INTERVALS

    return [
        (name, f"{seconds} s") for name, seconds in INTERVALS.items() if name.startswith(incomplete)
    ]


@dataclass
class CandlesOptions:
    exchange: str
    symbol: str
    interval: str = "1m"
    limit: int | None = None
    watch: bool = False
    fps: float = WATCH_FPS
    duration: float | None = None
    output: str | None = None


def check(opts: CandlesOptions) -> None:
    from velocimex_cli.cli.command_error import CommandError
    from velocimex_cli.wire.candles import INTERVALS, MAX_LIMIT

    if opts.interval not in INTERVALS:
        raise CommandError(
            f"--interval must be one of {', '.join(INTERVALS)}, not {opts.interval!r}"
        )
    if opts.limit is not None and not 1 <= opts.limit <= MAX_LIMIT:
        raise CommandError(
            f"--limit must be a whole number from 1 to {MAX_LIMIT}, not {opts.limit}"
        )


def draws_chart(factory: Factory, output: str | None) -> bool:
    """The chart when no format was asked for on the command line and stdout is a terminal."""
    return output is None and factory.io.is_stdout_tty


def chart_title(data: dict[str, Any], interval: str) -> str:
    """The instrument and interval, and the newest candle's figures."""
    from velocimex_cli.wire.numbers import parse_decimal, plain

    title = f"{data.get('exchange')} {data.get('symbol')} · {interval}"
    candles = data.get("candles") or []
    if candles:
        last = candles[-1]
        figures = []
        for name, key in (
            ("O", "open"),
            ("H", "high"),
            ("L", "low"),
            ("C", "close"),
            ("V", "volume"),
        ):
            value = parse_decimal(last.get(key))
            figures.append(f"{name} {plain(value) if value is not None else '?'}")
        title += f" · {last.get('time', '')[:16].replace('T', ' ')} " + " ".join(figures)
    return title


def run_candles(factory: Factory, opts: CandlesOptions) -> int:
    check(opts)
    if opts.watch:
        return run_candles_watch(factory, opts)
    from velocimex_cli.wire.candles import DEFAULT_LIMIT, MAX_LIMIT

    chart = draws_chart(factory, opts.output)
    if chart:
        from velocimex_cli.render.candles import candle_chart, columns_for

        console = factory.io.console()
        width = console.size.width
        limit = opts.limit or min(MAX_LIMIT, columns_for(width))
        data = factory.client().candles(opts.exchange, opts.symbol, opts.interval, limit)
        height = max(8, min(CHART_MAX_HEIGHT, console.size.height - 1))
        console.print(
            candle_chart(data["candles"], width, height, chart_title(data, opts.interval))
        )
        return 0
    from velocimex_cli.output.formats import emit

    limit = opts.limit or DEFAULT_LIMIT
    data = factory.client().candles(opts.exchange, opts.symbol, opts.interval, limit)

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import Fit, records_table
        from velocimex_cli.wire.candles import CANDLE_FIELDS

        # On a narrow screen the quote volume goes first, then the trade count, the volume.
        fit = Fit(drop=("quote_volume", "trades", "volume"), keep=frozenset(CANDLE_FIELDS[:5]))
        return records_table(payload.get("candles", []), CANDLE_FIELDS, fit=fit)

    emit(factory.io, data, factory.output_format(opts.output), table)
    return 0


def run_candles_watch(factory: Factory, opts: CandlesOptions) -> int:
    from velocimex_cli.cli.command_error import CommandError
    from velocimex_cli.cli.live_view import check_pace, draws_on_terminal
    from velocimex_cli.cli.stream import stream_client
    from velocimex_cli.client.candles import LiveCandles
    from velocimex_cli.wire.candles import MAX_LIMIT

    check_pace(opts.fps, opts.duration, None)
    if opts.output in ("table", "csv"):
        raise CommandError(
            "--watch prints a chart on a terminal, or NDJSON; use --json or -o ndjson"
        )
    terminal = draws_on_terminal(factory, opts.output)
    width = factory.io.console().size.width if terminal else 0
    from velocimex_cli.render.candles import columns_for

    limit = opts.limit or (min(MAX_LIMIT, columns_for(width)) if terminal else 1)
    data = factory.client().candles(opts.exchange, opts.symbol, opts.interval, limit)
    live = LiveCandles(data["exchange"], data["symbol"], opts.interval, limit)
    live.load(data)
    client = stream_client(factory)
    asyncio.run(_watch(factory, opts, client, live, terminal))
    return 0


async def _watch(
    factory: Factory, opts: CandlesOptions, client: Any, live: LiveCandles, terminal: bool
) -> None:
    from velocimex_cli.cli.live_screen import FramePacer, FullScreen, interactive
    from velocimex_cli.cli.live_view import feed, give_up_unless_ever_live, run_frames
    from velocimex_cli.cli.stream import NdjsonOut
    from velocimex_cli.render.candles import candle_chart

    key = f"{live.exchange}:{live.symbol}"
    stream = client.stream_market([key], ["trades"])
    pacer = FramePacer(opts.fps)
    loop = asyncio.get_running_loop()
    apply = give_up_unless_ever_live(client.api_url, live.apply)
    sources = [asyncio.create_task(feed(stream, apply, pacer, None))]
    if opts.duration is not None:
        loop.call_later(opts.duration, pacer.stop)
    pacer.mark()  # the first frame: what was fetched
    try:
        with contextlib.ExitStack() as stack:
            if terminal:
                screen = stack.enter_context(FullScreen(factory.io.console()))

                def draw() -> bool:
                    width, height = screen.size
                    payload = {"exchange": live.exchange, "symbol": live.symbol,
                               "candles": live.candles}  # fmt: skip
                    title = chart_title(payload, live.interval) + "   q quit"
                    screen.draw(candle_chart(live.candles, width, height, title))
                    return True

            else:
                lines = NdjsonOut(factory.io.stdout, None)
                last: list[Any] = [None]

                def draw() -> bool:
                    if not live.candles or live.candles[-1] == last[0]:
                        return True
                    last[0] = dict(live.candles[-1])
                    return lines.write({"exchange": live.exchange, "symbol": live.symbol,
                                        "interval": live.interval, **live.candles[-1]})  # fmt: skip

            stack.enter_context(interactive(loop, pacer.stop, pacer.mark))
            await run_frames(pacer, draw, sources)
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


app = sub_app("Candles of an instrument's trades.", no_args_is_help=False)


@app.command("candles")
def candles_command(
    ctx: typer.Context,
    exchange: ExchangeArgument,
    symbol: SymbolArgument,
    interval: Annotated[
        str,
        typer.Option("--interval", "-i", help="1m, 5m, 1h or 1d.", autocompletion=interval_names),
    ] = "1m",
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            help="How many of the newest candles (1-5000; default: as many as the terminal "
            "shows, or 100 as rows).",
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Live: redraw as trades arrive (NDJSON off a terminal)."),
    ] = False,
    fps: WatchFpsOption = WATCH_FPS,
    duration: WatchDurationOption = None,
) -> None:
    """Candles (open, high, low, close, volume) of an instrument's trades: a chart on a
    terminal, rows otherwise."""
    fmt = output_format(json, output)
    if not watch and duration is not None:
        raise typer.BadParameter("--duration goes with --watch")
    opts = CandlesOptions(
        exchange=exchange, symbol=symbol, interval=interval.strip().lower(), limit=limit,
        watch=watch, fps=fps, duration=duration, output=fmt,
    )  # fmt: skip
    execute(ctx, run_candles, opts, output=fmt)
