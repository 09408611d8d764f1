"""What every live view shares (`vmx watch`, `vmx ticker --watch`, `vmx order watch`, `vmx
replay`, `vmx candles --watch`): the choice between the screen and NDJSON, the pace limits, a
stream's messages folded in, and the frame loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.cli.live_screen import FramePacer

MAX_FPS = 60.0


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
                from velocimex_cli.wire.errors import Unreachable

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
