"""`vmx watch EXCHANGE SYMBOL`: the live order-book ladder; also `vmx ticker --watch` and the
terminal side of `vmx order watch`.

On a terminal: a full-screen view redrawn at most `--fps` times a second, only when something
changed (updates between frames are merged). `q` or Ctrl-C restores the terminal and exits 0.
Off a terminal: NDJSON snapshots at the same pace (the local book, or the changed tickers).
The book is the stream client's `LocalBook`, kept by `BookSync` (snapshot + sequenced deltas,
resynced on a gap or a checksum mismatch); the user's resting orders come from the orders
stream, seeded with the open orders from REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.cli.stream import NdjsonOut, recorded_terms, stream_client

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.cli.live_screen import FramePacer
    from velocimex_cli.client.streams import StreamClient
    from velocimex_cli.render.order_board import OrderBoard

VERIFY_CHOICES = ("every", "frame", "off")
WATCH_CHANNELS = ("book", "trades", "ticker")
MAX_FPS = 60.0


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


@dataclass
class TickerWatchOptions:
    instruments: list[str]
    fps: float = 10.0
    duration: float | None = None
    count: int | None = None
    output: str | None = None


def draws_on_terminal(factory: Factory, output: str | None) -> bool:
    """The live view on a terminal; NDJSON off one, or when JSON was asked for. `-o table`
    off a terminal and `-o csv` are refused (a live view has no such form)."""
    if output == "csv":
        raise CommandError("a live view prints a screen or NDJSON; use --json or -o ndjson")
    if output in ("json", "ndjson"):
        return False
    terminal = factory.io.is_stdout_tty
    if output == "table" and not terminal:
        raise CommandError("-o table needs a terminal on stdout; use --json for NDJSON")
    return terminal


def check_pace(fps: float, duration: float | None, count: int | None) -> None:
    if not 0 < fps <= MAX_FPS:
        raise CommandError(f"--fps must be more than 0 and at most {MAX_FPS:g}, not {fps:g}")
    if duration is not None and duration <= 0:
        raise CommandError(f"--duration must be a positive number of seconds, not {duration:g}")
    if count is not None and count < 1:
        raise CommandError(f"--count must be at least 1, not {count}")


def canonical_instrument(exchange: str, symbol: str) -> tuple[str, str]:
    return exchange.strip().upper(), symbol.strip().upper().replace("-", "/")


def parse_instrument(text: str) -> tuple[str, str]:
    exchange, sep, symbol = text.partition(":")
    if not sep or not exchange.strip() or not symbol.strip():
        raise CommandError(
            f"{text!r} is not an instrument; write EXCHANGE:SYMBOL, e.g. BINANCE:BTC/USDT"
        )
    return canonical_instrument(exchange, symbol)


def exchange_markets(factory: Factory, exchange: str) -> list[dict[str, Any]]:
    """The markets the engine lists for `exchange`; NOT_FOUND when it lists none."""
    from velocimex_cli.wire.errors import ApiError, NotFound

    try:
        markets = factory.client().markets(exchange).get("markets", [])
    except ApiError as exc:
        if exc.details.get("parameter") != "exchange":
            raise
        markets = []
    if not markets:
        raise NotFound(
            f"unknown exchange {exchange!r}; `vmx markets list` shows the exchanges",
            {"parameter": "exchange", "value": exchange},
        )
    return markets


def market_in(markets: list[dict[str, Any]], exchange: str, symbol: str) -> dict[str, Any]:
    """The instrument's entry among its exchange's markets; NOT_FOUND naming the ones listed."""
    from velocimex_cli.wire.errors import NotFound

    for market in markets:
        if market.get("exchange") == exchange and market.get("symbol") == symbol:
            return market
    known = ", ".join(sorted(str(m.get("symbol")) for m in markets))
    raise NotFound(
        f"{exchange} has no symbol {symbol!r}; it lists {known}",
        {"parameter": "symbol", "value": symbol},
    )


def find_market(factory: Factory, exchange: str, symbol: str) -> dict[str, Any]:
    """The instrument's market entry (tick size); NOT_FOUND when there is no such market."""
    exchange, symbol = canonical_instrument(exchange, symbol)
    return market_in(exchange_markets(factory, exchange), exchange, symbol)


async def run_frames(
    pacer: FramePacer,
    draw: Callable[[], bool],
    sources: list[asyncio.Task],
    before_frame: Callable[[], Any] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> None:
    """Draw frames until stopped (or a draw says enough, or a source ends); re-raise a
    source's failure after canceling the rest."""
    for task in sources:
        task.add_done_callback(lambda _: pacer.stop())
    try:
        while await pacer.next_frame():
            if before_frame is not None:
                await before_frame()
            if not draw():
                break
            if on_frame is not None:
                on_frame(time.monotonic_ns())
    finally:
        for task in sources:
            task.cancel()
        results = await asyncio.gather(*sources, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


def give_up_unless_ever_live(api_url: str, apply: Callable[[dict], bool]) -> Callable[[dict], bool]:
    """`apply`, but a stream that never got its first connection after a few attempts fails
    as unreachable (exit 9), like `vmx stream`; once it was live it retries for ever."""
    from velocimex_cli.cli.stream import FIRST_CONNECT_ATTEMPTS

    ever_live = False

    def guarded(message: dict) -> bool:
        nonlocal ever_live
        if message.get("type") == "connection":
            if message.get("state") == "live":
                ever_live = True
            elif not ever_live and message.get("attempt", 0) > FIRST_CONNECT_ATTEMPTS:
                from velocimex_cli.client.errors import Unreachable

                raise Unreachable(api_url, message.get("error") or "connection failed")
        return apply(message)

    return guarded


async def feed(stream: Any, apply: Callable[[dict], bool], pacer: FramePacer, record: Any) -> None:
    """Fold a stream's messages in; mark a frame due when one changed what is shown.

    Every 64 messages it yields to the event loop, so a burst already buffered in the socket
    cannot starve the frame loop.
    """
    n = 0
    async for message in stream:
        if record is not None:
            record(message)
        if apply(message):
            pacer.mark()
        n += 1
        if n & 63 == 0:
            await asyncio.sleep(0)


NDJSON_DEPTH = 10  # levels per side in an NDJSON snapshot without --depth
GROUP_MULTIPLES = 10  # how many steps `+` offers, from the first that merges levels
KEYS_HINT = "q quit · c chart · +/- group"


def group_steps(tick: Decimal, prices: Sequence[Decimal]) -> list[Decimal]:
    """The price steps `+` walks through: 1, 2, 5 x 10^n in price units, starting at the first
    one wider than the book's typical gap between levels (the median of `prices`' gaps), so the
    first `+` already merges levels; each a whole number of ticks."""
    from velocimex_cli.render.ladder import nice_ceiling

    gaps = sorted(abs(a - b) for a, b in itertools.pairwise(prices) if a != b)
    spacing = gaps[len(gaps) // 2] if gaps else tick
    step = nice_ceiling(max(spacing, tick) * Decimal("1.000001"))  # strictly wider
    steps: list[Decimal] = []
    while len(steps) < GROUP_MULTIPLES:
        if step % tick == 0:
            steps.append(step)
        step = nice_ceiling(step * Decimal("1.000001"))
    return steps


def next_group(
    current: Decimal | None, coarser: bool, tick: Decimal, prices: Sequence[Decimal]
) -> Decimal | None:
    """The grouping step after `+` (coarser) or `-` (finer); None is no grouping."""
    steps = group_steps(tick, prices)
    if coarser:
        if current is None:
            return steps[0]
        return next((s for s in steps if s > current), max(current, steps[-1]))
    finer = [s for s in steps if current is not None and s < current]
    return finer[-1] if finer else None


# ---------------------------------------------------------------------------- vmx watch
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
        api = factory.client()

        def fetch() -> dict[str, Any]:
            return api.list_orders(status="open", exchange=exchange, symbol=symbol)

        sources.append(asyncio.create_task(_own_orders(client, watch, pacer, fetch)))
    if opts.duration is not None:
        loop.call_later(opts.duration, pacer.stop)
    try:
        with contextlib.ExitStack() as stack:
            if terminal:
                from velocimex_cli.render.ladder import LadderRenderer

                screen = stack.enter_context(FullScreen(factory.io.console()))
                renderer = LadderRenderer()
                shown = {"chart": opts.chart}

                def draw() -> bool:
                    width, height = screen.size
                    below = pane.rows_for(width, height) if pane is not None else 0
                    height -= below
                    depth = max(1, (height - 5) // 2)  # what the screen holds ...
                    if opts.depth is not None:
                        depth = min(depth, opts.depth)  # ... or fewer, when asked
                    rows = renderer.render_rows(
                        watch.view(depth), width, height, shown["chart"], opts.depth
                    )
                    if below and pane is not None:
                        rows += pane.rows(width, below)
                    screen.draw(rows)
                    return True

                def on_key(key: str) -> None:
                    if key in "cC":
                        shown["chart"] = not shown["chart"]
                    elif key in "+=-_" and tick is not None:
                        book = watch.book
                        prices = [price for price, _ in book.bids(50)] if book else []
                        step = next_group(watch.group_step, key in "+=", tick, prices)
                        watch.group_step = step
                        watch.group_ticks = int(step / tick) if step is not None else None
                    else:
                        return
                    pacer.mark()

            else:
                lines = NdjsonOut(factory.io.stdout, opts.count)

                def draw() -> bool:
                    if watch.book is None:
                        return True  # nothing to say before the first snapshot
                    return lines.write(watch.snapshot(opts.depth or NDJSON_DEPTH))

                on_key = None  # type: ignore[assignment]  # no keys for a pipe

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


class OpenOrdersResync:
    """Orders-stream updates sent while it was down are not replayed: when it is live again
    after an outage, the open orders are fetched again over REST and the updates received
    meanwhile applied on top (so nothing newer is lost to the slower REST answer)."""

    def __init__(
        self,
        board: OrderBoard,
        fetch: Callable[[], dict[str, Any]],
        apply: Callable[[dict], bool],
        pacer: FramePacer,
    ) -> None:
        self.board = board
        self.fetch = fetch
        self.apply = apply
        self.pacer = pacer
        self.outage = False
        self.task: asyncio.Task | None = None
        self._meanwhile: list[dict] | None = None
        self.note: str | None = None
        self.say: Callable[[str], None] | None = None

    def __call__(self, message: dict) -> bool:
        if message.get("type") == "connection":
            if message.get("state") != "live":
                self.outage = self.outage or message.get("state") == "reconnecting"
            elif self.outage:
                self.outage = False
                self._meanwhile = []
                self.task = asyncio.create_task(self._reload())
            return False
        if self._meanwhile is not None:
            self._meanwhile.append(message)
        return self.apply(message)

    async def _reload(self) -> None:
        try:
            answer = await asyncio.to_thread(self.fetch)
        except Exception as exc:  # the board stays as it was, and says so
            self.note = f"open orders not refreshed after the outage: {exc}"
            if self.say is not None:
                self.say(self.note)
        else:
            meanwhile = self._meanwhile or []
            keep = {str(m.get("order_id")) for m in meanwhile if m.get("order_id") is not None}
            self.board.replace_open(answer.get("orders", []), keep)
            for message in meanwhile:
                self.apply(message)
            self.note = None
        self._meanwhile = None
        self.pacer.mark()


async def _own_orders(
    client: StreamClient, watch: Any, pacer: FramePacer, fetch: Callable[[], dict[str, Any]]
) -> None:
    """The user's orders for the ladder's marks; the view goes on without them if refused."""
    from velocimex_cli.wire.errors import ApiError

    resync = OpenOrdersResync(watch.orders, fetch, watch.apply, pacer)
    resync.say = lambda note: setattr(watch, "note", note)
    try:
        async for message in client.stream_orders():
            if resync(message):
                pacer.mark()
    except ApiError as exc:
        watch.note = f"own orders unavailable: {exc.message}"
        pacer.mark()
        await asyncio.Future()  # the ladder goes on: this source must not end the view


# ---------------------------------------------------------------------------- vmx ticker --watch
def run_ticker_watch(factory: Factory, opts: TickerWatchOptions) -> int:
    check_pace(opts.fps, opts.duration, opts.count)
    draws_on_terminal(factory, opts.output)
    instruments = board_instruments(factory, opts.instruments)
    markets = {(m["exchange"], m["symbol"]): m for m in factory.client().markets()["markets"]}
    client = stream_client(factory)
    asyncio.run(_ticker_watch(factory, opts, client, instruments, markets))
    return 0


def board_instruments(factory: Factory, words: list[str]) -> list[tuple[str, str]]:
    """EXCHANGE:SYMBOL ..., or EXCHANGE SYMBOL ..., or EXCHANGE alone (all its instruments),
    or nothing (every instrument: an empty list). Each named instrument must be listed by the
    engine (NOT_FOUND otherwise), checked before anything is drawn."""
    if all(":" in word for word in words):
        named = [parse_instrument(word) for word in words]
    elif any(":" in word for word in words):
        raise CommandError(
            "write every instrument as EXCHANGE:SYMBOL, or give one EXCHANGE and its symbols"
        )
    elif words[1:]:
        named = [canonical_instrument(words[0], symbol) for symbol in words[1:]]
    else:
        markets = exchange_markets(factory, words[0].strip().upper())
        return [(m["exchange"], m["symbol"]) for m in markets]
    listed: dict[str, list[dict[str, Any]]] = {}
    for exchange, symbol in named:
        if exchange not in listed:
            listed[exchange] = exchange_markets(factory, exchange)
        market_in(listed[exchange], exchange, symbol)
    return named


async def _ticker_watch(
    factory: Factory,
    opts: TickerWatchOptions,
    client: StreamClient,
    instruments: list[tuple[str, str]],
    markets: dict[tuple[str, str], dict[str, Any]],
) -> None:
    from velocimex_cli.cli.live_screen import FramePacer, FullScreen, interactive
    from velocimex_cli.render.ticker_board import TickerBoard, spread_message

    board = TickerBoard(instruments or None, markets)
    pacer = FramePacer(opts.fps)
    loop = asyncio.get_running_loop()
    names = [f"{e}:{s}" for e, s in instruments] or None
    stream = client.stream_market(names, ["ticker"])
    state = {"connection": "connecting"}
    changed: dict[tuple[str, str], dict] = {}

    def apply(message: dict) -> bool:
        if message.get("type") == "connection":
            from velocimex_cli.cli.market_watch import connection_label

            state["connection"] = connection_label(message)
            return True
        if board.apply(message):
            changed[(message["exchange"], message["symbol"])] = message
            return True
        return False

    guarded = give_up_unless_ever_live(client.api_url, apply)
    sources = [asyncio.create_task(feed(stream, guarded, pacer, None))]
    if opts.duration is not None:
        loop.call_later(opts.duration, pacer.stop)
    try:
        with contextlib.ExitStack() as stack:
            if draws_on_terminal(factory, opts.output):
                from velocimex_cli.render.ticker_board import TickerBoardRenderer

                screen = stack.enter_context(FullScreen(factory.io.console()))
                renderer = TickerBoardRenderer()

                def draw() -> bool:
                    width, height = screen.size
                    screen.draw(renderer.render(board, width, height, state["connection"]))
                    return True

            else:
                lines = NdjsonOut(factory.io.stdout, opts.count)
                spreads_sent: dict[tuple[str, str], dict[str, Any]] = {}

                def draw() -> bool:
                    rows = list(changed.values())
                    changed.clear()
                    for message in rows:
                        body = {k: v for k, v in message.items() if k != "received_at"}
                        if not lines.write(body):
                            return False
                    for asset in board.spreads():  # after the tickers, when it changed
                        body = spread_message(asset)
                        if spreads_sent.get((asset.base, asset.quote)) != body:
                            spreads_sent[(asset.base, asset.quote)] = body
                            if not lines.write(body):
                                return False
                    return True

            stack.enter_context(interactive(loop, pacer.stop, pacer.mark))
            await run_frames(pacer, draw, sources)
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


# ---------------------------------------------------------------------------- vmx order watch
def watch_orders_on_terminal(factory: Factory, fps: float = 10.0) -> int:
    """The live table of `vmx order watch` on a terminal (the command's NDJSON side is apart)."""
    check_pace(fps, None, None)
    client = stream_client(factory)
    open_orders = factory.client().list_orders(status="open")
    asyncio.run(_order_board(factory, client, fps, open_orders))
    return 0


async def _order_board(
    factory: Factory, client: StreamClient, fps: float, open_orders: dict[str, Any]
) -> None:
    from velocimex_cli.cli.live_screen import FramePacer, FullScreen, interactive
    from velocimex_cli.cli.market_watch import connection_label
    from velocimex_cli.render.order_board import OrderBoard, OrderBoardRenderer

    board = OrderBoard()
    board.load_open(open_orders.get("orders", []))
    pacer = FramePacer(fps)
    state = {"connection": "connecting"}
    stream = client.stream_orders()

    api = factory.client()
    resync = OpenOrdersResync(board, lambda: api.list_orders(status="open"), board.apply, pacer)

    def apply(message: dict) -> bool:
        if message.get("type") == "connection":
            state["connection"] = connection_label(message)
            resync(message)
            return True
        return resync(message)

    guarded = give_up_unless_ever_live(client.api_url, apply)
    sources = [asyncio.create_task(feed(stream, guarded, pacer, None))]
    renderer = OrderBoardRenderer()
    try:
        with FullScreen(factory.io.console()) as screen:

            def draw() -> bool:
                width, height = screen.size
                connection = state["connection"]
                screen.draw(renderer.render(board, width, height, connection, resync.note))
                return True

            with interactive(asyncio.get_running_loop(), pacer.stop, pacer.mark):
                await run_frames(pacer, draw, sources)
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()


# ---------------------------------------------------------------------------- vmx replay FILE
def replay_on_terminal(
    factory: Factory, recording: Any, speed: float | None, fps: float = 10.0
) -> int:
    """`vmx replay FILE` on a terminal: the recording played into the ladder. The book is
    rebuilt from the recorded snapshots and deltas (checked per frame like a live one; a gap
    stays flagged until the recording's next snapshot). At the end the last frame stays up,
    saying so, until q or Ctrl-C."""
    from velocimex_cli.client.recording import RecordingError

    try:
        asyncio.run(_replay(factory, recording, speed, fps))
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    return 0


async def _replay(factory: Factory, recording: Any, speed: float | None, fps: float) -> None:
    from velocimex_cli.cli.live_screen import FramePacer, FullScreen, interactive
    from velocimex_cli.cli.market_watch import BOOK_MESSAGES, MarketWatch
    from velocimex_cli.client.book import LocalBook
    from velocimex_cli.client.recording import replay
    from velocimex_cli.render.ladder import LadderRenderer

    instruments = recording.header.get("instruments") or []
    # A header's instrument is EXCHANGE:SYMBOL; one without the colon names no exchange.
    exchange, _, symbol = str(instruments[0]).rpartition(":") if instruments else ("", "", "")
    books: dict[str, LocalBook] = {}

    def book() -> LocalBook | None:
        return books.get(f"{watch.exchange}:{watch.symbol}")

    watch = MarketWatch(exchange, symbol, book)
    watch.connection = "live"
    watch.replay = "replay max" if speed is None else f"replay ×{speed:g}"
    pacer = FramePacer(fps)

    def apply(message: dict) -> bool:
        if message.get("type") in BOOK_MESSAGES:
            if not watch.exchange:  # no instruments in the header: the first book seen
                watch.exchange, watch.symbol = message["exchange"], message["symbol"]
            key = f"{message['exchange']}:{message['symbol']}"
            book = books.get(key) or books.setdefault(
                key, LocalBook(message["exchange"], message["symbol"])
            )
            reason = book.apply(message)
            if reason:
                watch.note = f"resync: {reason} (waiting for the recording's next snapshot)"
        return watch.apply(message)

    async def play() -> None:
        await feed(replay(recording, speed), apply, pacer, None)
        watch.note = "end of the recording"
        pacer.mark()
        await asyncio.Future()  # the last frame stays up until q or Ctrl-C

    def verify() -> Any:
        for book in books.values():
            if not book.verify() and book.reason:
                watch.note = f"resync: {book.reason}"
        return asyncio.sleep(0)

    renderer = LadderRenderer()
    sources = [asyncio.create_task(play())]
    with FullScreen(factory.io.console()) as screen:

        def draw() -> bool:
            width, height = screen.size
            depth = max(1, (height - 5) // 2)
            screen.draw(renderer.render_rows(watch.view(depth), width, height))
            return True

        with interactive(asyncio.get_running_loop(), pacer.stop, pacer.mark):
            await run_frames(pacer, draw, sources, verify, watch.stats.on_frame)


# ---------------------------------------------------------------------------- the command
watch_app = sub_app("The live order-book ladder of one instrument.", no_args_is_help=True)


# The command, the only one of its app (the root loads it lazily).
@watch_app.command("watch")
def watch_command(
    ctx: typer.Context,
    exchange: Annotated[
        str, typer.Argument(help="Exchange, e.g. BINANCE.", autocompletion=completers.exchanges)
    ],
    symbol: Annotated[
        str, typer.Argument(help="Symbol, e.g. BTC/USDT.", autocompletion=completers.symbols)
    ],
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
