"""The user's own orders in a live view: the orders stream applied to a board, and after an
outage of that stream the open orders fetched again over REST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velocimex_cli.cli.live_screen import FramePacer
    from velocimex_cli.client.streams import StreamClient
    from velocimex_cli.render.order_board import OrderBoard


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


async def own_orders(
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
