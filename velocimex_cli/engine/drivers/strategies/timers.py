"""Named strategy timers on an injected clock (microseconds): no clock is read here."""

from __future__ import annotations

from datetime import timedelta

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal

MAX_TIMERS = 64
MICROS = 1_000_000


def interval_micros(interval: object, what: str = "interval") -> int:
    """A timer interval (timedelta, or seconds as int/Decimal/str) in whole microseconds > 0."""
    if isinstance(interval, timedelta):
        micros = interval // timedelta(microseconds=1)
    else:
        seconds = parse_decimal(interval)
        if seconds is None:
            raise InvalidParameter(
                what, interval, f"{what} must be a timedelta or a number of seconds"
            )
        micros = int(seconds * MICROS)
    if micros <= 0:
        raise InvalidParameter(what, interval, f"{what} must be longer than zero")
    return micros


class Timers:
    """Named timers on an injected clock, in microseconds. A repeating timer that was due
    several times over fires once and is rescheduled on its grid after `now`."""

    __slots__ = ("_timers", "next_due")

    def __init__(self) -> None:
        self._timers: dict[str, tuple[int, int, bool]] = {}  # name -> (due, interval, repeat)
        # When the earliest timer is due (None: none is set). A plain attribute, not a
        # property: a backtest's host reads it after every event it handles.
        self.next_due: int | None = None

    def set(self, name: str, now: int, interval: int, repeat: bool) -> None:
        if not isinstance(name, str) or not name or len(name) > 100:
            raise InvalidParameter("name", name, "a timer's name must be 1-100 characters")
        if name not in self._timers and len(self._timers) >= MAX_TIMERS:
            raise InvalidParameter("name", name, f"at most {MAX_TIMERS} timers at once")
        due = now + interval
        self._timers[name] = (due, interval, bool(repeat))
        if self.next_due is None or due < self.next_due:
            self.next_due = due

    def cancel(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self.next_due = min((t[0] for t in self._timers.values()), default=None)

    def __len__(self) -> int:
        return len(self._timers)

    def pop_due(self, now: int) -> list[str]:
        """Names of the timers due at `now`, earliest first (ties by name)."""
        if self.next_due is None or now < self.next_due:
            return []
        due = sorted((t[0], name) for name, t in self._timers.items() if t[0] <= now)
        for at, name in due:
            _, interval, repeat = self._timers[name]
            if repeat:
                missed = (now - at) // interval + 1
                self._timers[name] = (at + missed * interval, interval, True)
            else:
                del self._timers[name]
        self.next_due = min((t[0] for t in self._timers.values()), default=None)
        return [name for _, name in due]


__all__ = ["MAX_TIMERS", "Timers", "interval_micros"]
