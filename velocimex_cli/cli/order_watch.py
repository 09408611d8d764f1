"""`vmx order watch`: your orders and fills as they happen, a live table on a terminal, NDJSON
otherwise (and with --json): the NDJSON is `vmx stream orders`', the table is drawn here."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.live_view import check_pace, feed, give_up_unless_ever_live, run_frames
from velocimex_cli.cli.own_orders import OpenOrdersResync
from velocimex_cli.cli.stream import run_orders, stream_client

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.cli.stream import OrdersOptions
    from velocimex_cli.client.streams import StreamClient


def run_order_watch(factory: Factory, opts: OrdersOptions) -> int:
    """The live table on a terminal (the ladder's order board), NDJSON otherwise."""
    if factory.io.is_stdout_tty and not (opts.ndjson or opts.count or opts.record):
        return watch_orders_on_terminal(factory)
    return run_orders(factory, opts)


def watch_orders_on_terminal(factory: Factory, fps: float = 10.0) -> int:
    """The live table of `vmx order watch` on a terminal."""
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
