"""Driving a live view: frame pacing, the full-screen terminal, keys and signals.

- `FramePacer`: a frame at most every 1/fps seconds and only after something changed; changes
  between frames are merged (a flag is set, nothing is queued).
- `FullScreen`: the alternate screen, painted only when told to and then only the lines that
  changed; leaving it restores the main screen and the cursor.
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
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


class FramePacer:
    def __init__(self, fps: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / fps
        self.clock = clock
        self.changed = asyncio.Event()
        self.stopped = False
        self._last = -1e18
        self.lateness: list[float] | None = None  # set to a list to record how late frames ran

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
        due = self._last + self.interval
        delay = due - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)
            if self.stopped:
                return False
        self.changed.clear()
        self._last = self.clock()
        if self.lateness is not None and delay > 0:
            self.lateness.append(self._last - due)  # the event loop woke up this late
        return True


class FullScreen:
    """The alternate screen, painted line by line: only lines that differ from what the
    screen shows are rewritten, and each distinct line is turned into ANSI once.

    A Rich `Live` (even without its refresh thread) lays the whole frame out through Rich's
    segment pipeline on every refresh: ~4.5 ms of CPU for a 120x40 ladder. Painting changed
    lines from a cache costs a fraction of that (see `python -m benchmarks stream_ladder`).
    Leaving restores the main screen and the cursor, whatever happened inside.
    """

    def __init__(self, console: Console, cache_size: int = 4096) -> None:
        self.console = console
        self.cache_size = cache_size
        self._ansi: dict[tuple, str] = {}
        self._shown: dict[tuple[int, int], str] = {}
        self._shown_size: tuple[int, int] | None = None
        self.regions_written = 0
        self._colors = self._color_system()

    def __enter__(self) -> FullScreen:
        self.console.set_alt_screen(True)
        self.console.show_cursor(False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.console.show_cursor(True)
        self.console.set_alt_screen(False)

    @property
    def size(self) -> tuple[int, int]:
        size = self.console.size
        return size.width, size.height

    def draw(self, frame: Text | Sequence[Text | Sequence[tuple[int, Text]]]) -> None:
        """Paint a frame: one Text of lines, or rows each a Text or (column, Text) parts."""
        from rich.text import Text

        rows = frame.split("\n", allow_blank=True) if isinstance(frame, Text) else frame
        size = self.size
        width, height = size
        out: list[str] = []
        if size != self._shown_size:  # first frame or a resize: start from a blank screen
            out.append("\x1b[H\x1b[2J")
            self._shown = {}
            self._ansi.clear()
            self._shown_size = size
        shown = self._shown
        painted: dict[tuple[int, int], str] = {}
        for row, parts in enumerate(rows[:height]):
            if isinstance(parts, Text):
                parts = [(0, parts)]
            for index, (column, text) in enumerate(parts):
                if column >= width:
                    break
                last = index == len(parts) - 1 or parts[index + 1][0] >= width
                room = width - column if last else parts[index + 1][0] - column
                ansi = self._region(text, room, last)
                painted[(row, column)] = ansi
                if shown.get((row, column)) != ansi:
                    out.append(f"\x1b[{row + 1};{column + 1}H{ansi}")
                    self.regions_written += 1
        for row, column in shown.keys() - painted.keys():
            if column == 0:
                out.append(f"\x1b[{row + 1};1H\x1b[K")
        self._shown = painted
        if out:
            file = self.console.file
            file.write("".join(out))
            file.flush()

    def _region(self, text: Text, room: int, last: bool) -> str:
        """The ANSI of `text` in `room` cells; a last region clears to the end of the line,
        another is padded to its room (so what it showed before is overwritten)."""
        ansi = self._line(text, room)
        if last:
            return ansi + "\x1b[K"
        pad = room - min(text.cell_len, room)
        return ansi + " " * pad if pad > 0 else ansi

    def _line(self, line: Text, width: int) -> str:
        key = (line.plain, tuple(line.spans), str(line.style), width)
        ansi = self._ansi.get(key)
        if ansi is None:
            if len(self._ansi) >= self.cache_size:
                self._ansi.clear()
            ansi = self._ansi[key] = self._to_ansi(line, width)
        return ansi

    def _to_ansi(self, line: Text, width: int) -> str:
        """The line's ANSI: Rich's own segments and style codes, without its layout pass."""
        if line.cell_len > width:
            line = line.copy()
            line.truncate(width)
        color_system = self._colors
        out = []
        for segment in line.render(self.console, end=""):
            text, style = segment.text, segment.style
            out.append(style.render(text, color_system=color_system) if style else text)
        return "".join(out)

    def _color_system(self) -> Any:
        from rich.color import ColorSystem

        names = {
            "standard": ColorSystem.STANDARD,
            "256": ColorSystem.EIGHT_BIT,
            "truecolor": ColorSystem.TRUECOLOR,
            "windows": ColorSystem.WINDOWS,
        }
        return names.get(self.console.color_system or "")


@contextlib.contextmanager
def interactive(
    loop: asyncio.AbstractEventLoop,
    stop: Callable[[], None],
    redraw: Callable[[], None],
    on_key: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """While inside: `q`/`Q`/Ctrl-C/SIGTERM call `stop`, a terminal resize calls `redraw`,
    any other key goes to `on_key`."""
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    if hasattr(signal, "SIGWINCH"):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, redraw)
            installed.append(signal.SIGWINCH)
    restore = _cbreak_stdin(loop, stop, on_key)
    try:
        yield
    finally:
        restore()
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def _cbreak_stdin(
    loop: asyncio.AbstractEventLoop,
    stop: Callable[[], None],
    on_key: Callable[[str], None] | None,
) -> Callable[[], None]:
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
        elif on_key is not None:
            for key in data.decode("utf-8", "replace"):
                on_key(key)

    loop.add_reader(fd, on_input)

    def restore() -> None:
        with contextlib.suppress(Exception):
            loop.remove_reader(fd)
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore
