"""`vmx watch EXCHANGE SYMBOL`: the live order-book ladder.

On a terminal: a full-screen view redrawn at most `--fps` times a second, only when something
changed (updates between frames are merged). `q` or Ctrl-C restores the terminal and exits 0.
Off a terminal: NDJSON snapshots of the local book at the same pace.
The book is the stream client's `LocalBook`, kept by `BookSync` (snapshot + sequenced deltas,
resynced on a gap or a checksum mismatch); the user's resting orders come from the orders
stream, seeded with the open orders from REST (own_orders.py). The keys are ladder_keys';
what every live view shares is live_view's.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.live_view import (
    check_pace,
    draws_on_terminal,
    feed,
    give_up_unless_ever_live,
    run_frames,
)
from velocimex_cli.cli.market_lookup import find_market
from velocimex_cli.cli.options import (
    ExchangeArgument,
    JsonFlag,
    OutputOption,
    SymbolArgument,
    output_format,
    sub_app,
)
from velocimex_cli.cli.stream import NdjsonOut, recorded_terms, stream_client

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.cli.ladder_keys import LadderKeys
    from velocimex_cli.client.streams import StreamClient

VERIFY_CHOICES = ("every", "frame", "off")
WATCH_CHANNELS = ("book", "trades", "ticker")
NDJSON_DEPTH = 10  # levels per side in an NDJSON snapshot without --depth


@dataclass
class WatchOptions:
    exchange: str
    symbol: str
    fps: float = 10.0
    verify: str = "frame"
    record: str | None = None
    chart: bool = False
    group: int | None = None
    depth: int | None = None  # levels per side: None fills the screen (NDJSON: NDJSON_DEPTH)
    duration: float | None = None
    count: int | None = None
    output: str | None = None  # json/ndjson: NDJSON even on a terminal; table: the live view


def run_watch(factory: Factory, opts: WatchOptions) -> int:
    check_pace(opts.fps, opts.duration, opts.count)
    if opts.verify not in VERIFY_CHOICES:
        raise CommandError(f"--verify must be every, frame or off, not {opts.verify!r}")
    if opts.group is not None and opts.group < 1:
        raise CommandError(f"--group must be a whole number of ticks, at least 1, not {opts.group}")
    if opts.depth is not None and not 1 <= opts.depth <= 1000:
        raise CommandError(f"--depth must be 1-1000, not {opts.depth}")
    draws_on_terminal(factory, opts.output)  # refuse a form it has not before connecting
    market = find_market(factory, opts.exchange, opts.symbol)
    exchange, symbol = market["exchange"], market["symbol"]
    tick = Decimal(str(market["tick_size"]))
    step = tick * opts.group if opts.group else None
    client = stream_client(factory)
    open_orders = factory.client().list_orders(status="open", exchange=exchange, symbol=symbol)
    recorder = None
    if opts.record is not None:
        from velocimex_cli.client.recording import Recorder, RecordingError

        try:
            recorder = Recorder.open(
                opts.record,
                stream="market",
                instruments=[f"{exchange}:{symbol}"],
                channels=list(WATCH_CHANNELS),
                api_url=client.api_url,
                terms=recorded_terms(factory, [f"{exchange}:{symbol}"], [market]),
            )
        except RecordingError as exc:
            raise CommandError(str(exc)) from None
    try:
        asyncio.run(
            _watch(factory, opts, client, exchange, symbol, tick, step, open_orders, recorder)
        )
    finally:
        if recorder is not None:
            recorder.close()
    return 0


async def _watch(
    factory: Factory,
    opts: WatchOptions,
    client: StreamClient,
    exchange: str,
    symbol: str,
    tick: Decimal | None,
    step: Decimal | None,
    open_orders: dict[str, Any],
    recorder: Any,
) -> None:
    from velocimex_cli.cli.ladder_keys import KEYS_HINT
    from velocimex_cli.cli.live_screen import FramePacer, FullScreen, interactive
    from velocimex_cli.cli.market_watch import MarketWatch
    from velocimex_cli.client.book import BookSync

    key = f"{exchange}:{symbol}"
    sync = BookSync(client, [key], list(WATCH_CHANNELS), verify=opts.verify)
    watch = MarketWatch(
        exchange, symbol, lambda: sync.books.get(key), group_step=step, group_ticks=opts.group
    )
    watch.orders.load_open(open_orders.get("orders", []))
    watch.hint = KEYS_HINT
    pacer = FramePacer(opts.fps)
    loop = asyncio.get_running_loop()
    terminal = draws_on_terminal(factory, opts.output)

    def record(message: dict) -> None:
        if message.get("type") != "resync":  # the book sync's own note, not something received
            recorder.write(message)

    async def verify() -> None:
        for message in await sync.verify_all():
            watch.apply(message)

    pane = None
    if terminal:  # the price chart under the ladder, where it fits (cli/candle_pane.py)
        from velocimex_cli.cli.candle_pane import candle_pane

        pane = candle_pane(factory, exchange, symbol)
    apply = give_up_unless_ever_live(
        client.api_url, watch.apply if pane is None else pane.hook(watch.apply)
    )
    sources = [asyncio.create_task(feed(sync, apply, pacer, record if recorder else None))]
    if terminal:
        from velocimex_cli.cli.own_orders import own_orders

        api = factory.client()

        def fetch() -> dict[str, Any]:
            return api.list_orders(status="open", exchange=exchange, symbol=symbol)

        sources.append(asyncio.create_task(own_orders(client, watch, pacer, fetch)))
    if opts.duration is not None:
        loop.call_later(opts.duration, pacer.stop)
    try:
        with contextlib.ExitStack() as stack:
            on_key: LadderKeys | None = None  # no keys for a pipe
            if terminal:
                from velocimex_cli.cli.ladder_keys import LadderKeys
                from velocimex_cli.render.ladder import LadderRenderer

                screen = stack.enter_context(FullScreen(factory.io.console()))
                renderer = LadderRenderer()
                keys = on_key = LadderKeys(watch, tick, pacer, opts.chart)

                def draw() -> bool:
                    width, height = screen.size
                    below = pane.rows_for(width, height) if pane is not None else 0
                    height -= below
                    depth = max(1, (height - 5) // 2)  # what the screen holds ...
                    if opts.depth is not None:
                        depth = min(depth, opts.depth)  # ... or fewer, when asked
                    rows = renderer.render_rows(
                        watch.view(depth), width, height, keys.chart, opts.depth
                    )
                    if below and pane is not None:
                        rows += pane.rows(width, below)
                    screen.draw(rows)
                    return True

            else:
                lines = NdjsonOut(factory.io.stdout, opts.count)

                def draw() -> bool:
                    if watch.book is None:
                        return True  # nothing to say before the first snapshot
                    return lines.write(watch.snapshot(opts.depth or NDJSON_DEPTH))

            stack.enter_context(interactive(loop, pacer.stop, pacer.mark, on_key))
            await run_frames(
                pacer,
                draw,
                sources,
                verify if opts.verify == "frame" else None,
                watch.stats.on_frame,
            )
    finally:
        with contextlib.suppress(Exception):
            await sync.aclose()


# ---------------------------------------------------------------------------- the command
watch_app = sub_app("The live order-book ladder of one instrument.", no_args_is_help=True)


# The command, the only one of its app (the root loads it lazily).
@watch_app.command("watch")
def watch_command(
    ctx: typer.Context,
    exchange: ExchangeArgument,
    symbol: SymbolArgument,
    fps: Annotated[float, typer.Option("--fps", help="At most this many frames a second.")] = 10.0,
    verify: Annotated[
        str,
        typer.Option("--verify", help="Book checksum: every message, once per frame, or off."),
    ] = "frame",
    record: Annotated[
        str | None,
        typer.Option("--record", help="Record every message received to this NDJSON file."),
    ] = None,
    chart: Annotated[bool, typer.Option("--chart", help="Cumulative depth as a chart.")] = False,
    group: Annotated[
        int | None,
        typer.Option("--group", help="Aggregate price levels into buckets of this many ticks."),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            "-d",
            help="Levels per side (default: what the screen holds; NDJSON: 10).",
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="NDJSON: stop after this many snapshots.")
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """A live ladder (asks above, bids below, trade tape, your orders); q or Ctrl-C quits.

    Off a terminal, or with --json / -o ndjson: NDJSON snapshots of the local book at the
    frame rate.
    """
    fmt = output_format(json, output)
    options = WatchOptions(
        exchange=exchange,
        symbol=symbol,
        fps=fps,
        verify=verify,
        record=record,
        chart=chart,
        group=group,
        depth=depth,
        duration=duration,
        count=count,
        output=fmt,
    )
    execute(ctx, run_watch, options, output=fmt)
