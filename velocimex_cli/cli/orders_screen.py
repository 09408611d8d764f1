"""The live table of `vmx order watch` on a terminal: the user's orders and fills as they
happen (the command, and its NDJSON side, are order_watch's)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.live_view import check_pace, feed, give_up_unless_ever_live, run_frames
from velocimex_cli.cli.own_orders import OpenOrdersResync
from velocimex_cli.cli.stream import stream_client

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.client.streams import StreamClient


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
