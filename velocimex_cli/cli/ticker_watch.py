"""`vmx ticker --watch`: many instruments' tickers as one live board (and the best cross-venue
spread where two rows share a base asset); NDJSON of the changed tickers off a terminal."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.live_view import (
    check_pace,
    draws_on_terminal,
    feed,
    give_up_unless_ever_live,
    run_frames,
)
from velocimex_cli.cli.market_lookup import (
    canonical_instrument,
    exchange_markets,
    market_in,
    parse_instrument,
)
from velocimex_cli.cli.stream import NdjsonOut, stream_client

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.client.streams import StreamClient


@dataclass
class TickerWatchOptions:
    instruments: list[str]
    fps: float = 10.0
    duration: float | None = None
    count: int | None = None
    output: str | None = None


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
