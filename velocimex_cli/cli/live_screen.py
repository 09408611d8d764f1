"""Driving a live view: frame pacing, the full-screen terminal, keys and signals.

- `FramePacer`: a frame at most every 1/fps seconds and only after something changed; changes
  between frames are merged (a flag is set, nothing is queued).
- `FullScreen`: a Rich `Live` on the alternate screen, refreshed only when told to (no
  auto-refresh thread redrawing unchanged frames); leaving it restores the screen and cursor.
- `interactive(loop, stop, redraw)`: `q` (or Ctrl-C, SIGTERM) stops, a resize redraws; the
  terminal's mode is restored on the way out, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


class FramePacer:
    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / fps
        self.clock = clock
        self.changed = asyncio.Event()
        self.stopped = False
        self._last = -1e18

    def mark(self) -> None:
        """Something changed: the next frame is due (no later than one interval from the last)."""
        self.changed.set()

    def stop(self) -> None:
        self.stopped = True
        self.changed.set()

    async def next_frame(self) -> bool:
        """Wait until a frame should be drawn; False once stopped."""
        await self.changed.wait()
        if self.stopped:
            return False
        delay = self._last + self.interval - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)
            if self.stopped:
                return False
        self.changed.clear()
        self._last = self.clock()
        return True


class FullScreen:
    """The alternate screen, redrawn only on `draw`."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self.console = console
        self.live = Live(
            console=console,
            screen=True,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
        )

    def __enter__(self) -> FullScreen:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()
        self.console.show_cursor(True)

    @property
    def size(self) -> tuple[int, int]:
        size = self.console.size
        return size.width, size.height

    def draw(self, renderable: RenderableType) -> None:
        self.live.update(renderable, refresh=True)


@contextlib.contextmanager
def interactive(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], redraw: Callable[[], None]
) -> Iterator[None]:
    """While inside: `q`/`Q`/Ctrl-C/SIGTERM call `stop`, a terminal resize calls `redraw`."""
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    if hasattr(signal, "SIGWINCH"):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, redraw)
            installed.append(signal.SIGWINCH)
    restore = _cbreak_stdin(loop, stop)
    try:
        yield
    finally:
        restore()
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def _cbreak_stdin(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Callable[[], None]:
    """Read single keys from a terminal stdin; returns what restores it."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return lambda: None
    if not os.isatty(fd):
        return lambda: None
    import termios
    import tty

    saved: Any = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def on_input() -> None:
        try:
            data = os.read(fd, 64)
        except OSError:
            data = b""
        if not data or any(key in data for key in (b"q", b"Q", b"\x03")):
            stop()

    loop.add_reader(fd, on_input)

    def restore() -> None:
        with contextlib.suppress(Exception):
            loop.remove_reader(fd)
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore
