"""A child process on a real pseudo-terminal, read back through pyte: what a person at a
terminal of COLUMNS x LINES would see of `vmx watch` and the other live views, and helpers that
read the ladder off that screen. Shared by the tests of the live views (tests/e2e/)."""

from __future__ import annotations

import os
import pty
import re
import signal
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyte

COLUMNS, LINES = 110, 30
PRICE = re.compile(r"\b\d{5}\.\d{2}\b")
ENTER_ALT, LEAVE_ALT = b"\x1b[?1049h", b"\x1b[?1049l"
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"


@dataclass
class Terminal:
    """A child process on a pty, its output fed into a pyte screen."""

    pid: int
    fd: int
    screen: pyte.Screen
    stream: pyte.ByteStream
    raw: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int | None = None

    @classmethod
    def spawn(
        cls, argv: list[str], env: dict[str, str], columns: int = COLUMNS, lines: int = LINES
    ) -> Terminal:
        """`argv` on a pty of `columns` x `lines` (COLUMNS and LINES in its environment too)."""
        env = {**env, "COLUMNS": str(columns), "LINES": str(lines)}
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        import fcntl
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        screen = pyte.Screen(columns, lines)
        terminal = cls(pid, fd, screen, pyte.ByteStream(screen))
        threading.Thread(target=terminal._read, daemon=True).start()
        return terminal

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw.extend(data)
                self.stream.feed(data)

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.screen.display)

    def wait_for(self, check: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if check(text):
                return text
            if self.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{what} not seen within {timeout}s; screen:\n{self.text()}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.poll()
            if status is not None:
                time.sleep(0.1)  # let the reader drain the last output
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"vmx did not exit; screen:\n{self.text()}")

    def close(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def ladder_sides(text: str) -> tuple[list[str], list[str]]:
    """Prices above and below the spread line (the first price of each row)."""
    lines = text.splitlines()
    # The rule between the sides names the spread, or the side that is empty ("no asks").
    rules = ("spread", "no asks", "no bids")
    spread = next(
        (i for i, line in enumerate(lines) if "─" in line and any(r in line for r in rules)), None
    )
    if spread is None:
        return [], []
    first = [PRICE.search(line) for line in lines]
    asks = [m.group(0) for m in first[4:spread] if m]
    bids = [m.group(0) for m in first[spread + 1 :] if m]
    return asks, bids


def shows_live_ladder(text: str) -> bool:
    asks, bids = ladder_sides(text)
    return "● live" in text and len(asks) >= 3 and len(bids) >= 3


def assert_restored(raw: bytes) -> None:
    assert ENTER_ALT in raw, "never entered the alternate screen"
    assert raw.rfind(LEAVE_ALT) > raw.rfind(ENTER_ALT), "the alternate screen was not left"
    assert raw.rfind(SHOW_CURSOR) > raw.rfind(HIDE_CURSOR), "the cursor was left hidden"
