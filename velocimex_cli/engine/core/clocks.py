"""The clock the engine is given: the core reads no clock of its own.

`Clock` is any callable returning the current UTC datetime (the server's wall clock, a test's
fixed clock); a `MicrosClock` (a backtest's SimulatedClock) also keeps that time as UTC
microseconds, which the engine reads instead of converting the datetime (`Commands._micros`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

Clock = Callable[[], datetime]


@runtime_checkable
class MicrosClock(Protocol):
    """A clock that also keeps its time as UTC microseconds in `micros` (a backtest's
    SimulatedClock): the engine reads that instead of converting the datetime it returns."""

    micros: int

    def __call__(self) -> datetime: ...
