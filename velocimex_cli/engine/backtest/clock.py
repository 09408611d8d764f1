"""The simulated clock a backtest injects into its engine: it moves only when the replay says."""

from __future__ import annotations

from datetime import datetime

from velocimex_cli.wire.timefmt import from_micros


class SimulatedClock:
    """A callable returning the current simulated UTC time; `set(micros)` moves it forward.

    `micros` is the time in UTC microseconds; the datetime is built only when someone asks
    for it (a replay moves the clock at every event, the engine reads it far less often)."""

    __slots__ = ("_at", "_now", "micros")

    def __init__(self, micros: int = 0) -> None:
        self.micros = micros
        self._at = micros
        self._now = from_micros(micros)

    def __call__(self) -> datetime:
        if self._at != self.micros:
            self._at = self.micros
            self._now = from_micros(self.micros)
        return self._now

    def set(self, micros: int) -> None:
        if micros < self.micros:
            raise ValueError("a simulated clock never goes backwards")
        self.micros = micros
