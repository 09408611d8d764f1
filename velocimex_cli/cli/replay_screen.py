"""`vmx replay FILE` on a terminal: a recording played into the live ladder."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.live_view import feed, run_frames

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


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
