"""An exchange on an accelerated, injected clock with the seeded simulator driving its books,
and a helper that runs a strategy host on it step by step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.host import StrategyHost

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday, inside NASDAQ hours
USER = "trader"


class SimClock:
    """A clock the test moves: each market step advances it by `tick`."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Market:
    exchange: Exchange
    simulator: MarketSimulator
    clock: SimClock

    def deploy(
        self,
        strategy: type[Strategy],
        params: Mapping[str, Any] | None = None,
        *,
        exchange: str = "BINANCE",
        symbol: str = "BTC/USDT",
        deployment_id: str = "d1",
        account: str = USER,
    ) -> StrategyHost:
        self.exchange.ensure_account(account)
        host = StrategyHost(
            self.exchange,
            strategy,
            deployment_id=deployment_id,
            account=account,
            exchange_name=exchange,
            symbol=symbol,
            params=params,
        )
        host.start()
        return host

    def run(
        self,
        host: StrategyHost,
        steps: int,
        tick: timedelta = timedelta(seconds=1),
        each: Callable[[int], None] | None = None,
    ) -> None:
        """`steps` market steps, `tick` apart; the host handles each before the next."""
        for index in range(steps):
            self.clock.advance(tick)
            self.simulator.step()
            host.step()
            if each is not None:
                each(index)
            if not host.running:
                return


@pytest.fixture
def market() -> Market:
    clock = SimClock()
    exchange = Exchange(EngineConfig(seed=7), clock)
    simulator = MarketSimulator(exchange, seed=7)
    simulator.seed_books()
    return Market(exchange, simulator, clock)
