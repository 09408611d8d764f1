"""Shared fixtures: an engine on a fixed clock and seed, temporary data directories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from velocimex_cli.engine.core.exchange import EngineConfig, Exchange

# A Tuesday, 10:00 in New York: every venue is open.
MARKET_OPEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: datetime = MARKET_OPEN) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_exchange(clock: FakeClock) -> Callable[..., Exchange]:
    def make(**config: object) -> Exchange:
        exchange = Exchange(EngineConfig(**config), clock)  # type: ignore[arg-type]
        exchange.ensure_account("alice")
        exchange.ensure_account("bob")
        return exchange

    return make


@pytest.fixture
def exchange(make_exchange: Callable[..., Exchange]) -> Exchange:
    return make_exchange()
