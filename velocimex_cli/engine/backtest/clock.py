"""The simulated clock a backtest injects into its engine: it moves only when the replay says."""

from __future__ import annotations

from datetime import datetime

from velocimex_cli.wire.timefmt import from_micros


class SimulatedClock:
    """A callable returning the current simulated UTC time; `set(micros)` moves it forward."""

    __slots__ = ("_micros", "_now")

    def __init__(self, micros: int = 0) -> None:
        self._micros = micros
        self._now = from_micros(micros)

    def __call__(self) -> datetime:
        return self._now

    @property
    def micros(self) -> int:
        return self._micros

    def set(self, micros: int) -> None:
        if micros != self._micros:
            if micros < self._micros:
                raise ValueError("a simulated clock never goes backwards")
            self._micros = micros
            self._now = from_micros(micros)
