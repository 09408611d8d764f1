"""Saying why vmx is waiting: rate limits and batch pacing, on stderr, the moment they start.

Off a terminal each wait is one line ("rate limited: retrying in 55 s, Ctrl-C to stop"). On a
terminal the line counts down in place, once a second, and is left as a record of what
happened ("rate limited: waited 55 s"). The client calls `announce` before it sleeps and then
`sleep`, so the countdown and the sleep are one thing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from velocimex_cli.output.iostreams import IOStreams

if TYPE_CHECKING:
    from velocimex_cli.client.policy import Sleep

CLEAR_LINE = "\r\x1b[K"


def wait_notice(step: Sleep, seconds_left: float) -> str:
    """The sentence for a wait with `seconds_left` to go."""
    seconds = max(0, math.ceil(seconds_left))
    if step.reason == "pacing":
        limit = f" of {step.limit} requests" if step.limit else ""
        return f"rate limit{limit} reached: next request in {seconds} s, Ctrl-C to stop"
    return f"rate limited: retrying in {seconds} s, Ctrl-C to stop"


def waited_notice(step: Sleep) -> str:
    what = "paced" if step.reason == "pacing" else "rate limited"
    return f"{what}: waited {step.seconds:.0f} s" if step.seconds >= 1 else f"{what}: waited"


class WaitNotices:
    """The client's `on_wait` and `sleep`: announce a wait, then sleep through it visibly."""

    def __init__(self, io: IOStreams, sleep: Callable[[float], None] = time.sleep) -> None:
        self.io = io
        self._sleep = sleep
        self._pending: Sleep | None = None

    def announce(self, step: Sleep) -> None:
        if self.io.is_stderr_tty:
            self._pending = step  # drawn (and counted down) by sleep()
        else:
            self.io.status(wait_notice(step, step.seconds))

    def sleep(self, seconds: float) -> None:
        step, self._pending = self._pending, None
        if step is None or seconds < 1:
            if step is not None:
                self.io.status(wait_notice(step, seconds))
            self._sleep(seconds)
            return
        err = self.io.stderr
        left = seconds
        try:
            while left > 0:
                err.write(CLEAR_LINE + wait_notice(step, left))
                err.flush()
                tick = min(1.0, left - math.floor(left) or 1.0)
                self._sleep(tick)
                left -= tick
        except BaseException:  # Ctrl-C: leave the line saying what was stopped
            err.write(CLEAR_LINE + wait_notice(step, left).split(":")[0] + ": stopped waiting\n")
            err.flush()
            raise
        err.write(CLEAR_LINE + waited_notice(step) + "\n")
        err.flush()
