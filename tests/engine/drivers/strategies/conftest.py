"""An exchange on an accelerated, injected clock with the seeded simulator driving its books,
a helper that runs a strategy host on it step by step, and an engine node stepped by a fake
clock with deployments on it (`make_node`, `add`, `run`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import FakeClock
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.engine.node import EngineNode, NodeSettings, StrategyLimits

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


HEADER = "from decimal import Decimal\nfrom velocimex_cli.strategy import Param, Strategy\n"

QUOTER = (
    HEADER
    + """
class Quoter(Strategy):
    id = "quoter"
    params = {
        "amount": Param(Decimal, Decimal("0.001"), min=Decimal("0.001"), max=Decimal("1")),
        "stop_after": Param(int, 0, min=0, description="ctx.stop() after this many books"),
    }

    def on_start(self):
        self.books = 0
        self.ctx.log("started")

    def on_book(self, book):
        self.books += 1
        if not self.ctx.open_orders():
            self.ctx.buy(self.config.amount, book.bid)
        if self.config.stop_after and self.books >= self.config.stop_after:
            self.ctx.stop("enough books")

    def on_stop(self):
        self.ctx.log("on_stop ran with " + str(len(self.ctx.open_orders())) + " open")
"""
)


def make_node(data_dir: Path | None, clock: FakeClock) -> EngineNode:
    limits = StrategyLimits(callback_seconds=2.0, start_seconds=10.0, memory_bytes=256 * 2**20)
    settings = NodeSettings(data_dir=data_dir, simulate=False, always_open=True, strategies=limits)
    node = EngineNode(settings, clock)
    node.start()
    node.exchange.ensure_account("alice")
    return node


def add(node: EngineNode, source: str, filename: str = "s.py") -> dict[str, object]:
    deployments = node.deployments
    assert deployments is not None
    described = deployments.uploads.check_source(source, filename)
    return deployments.add_strategy(source, described, False, account="alice")


def run(node: EngineNode, clock: FakeClock, steps: int) -> None:
    for _ in range(steps):
        clock.advance(seconds=0.25)
        node.step()


def move_the_book(client: TestClient, headers: dict[str, str]) -> float:
    """A manual order joining the MSFT bid (a book change for every deployment there);
    returns how long its acknowledgement took."""
    ticker = client.get("/v1/markets/NASDAQ/ticker/MSFT", headers=headers).json()["data"]
    bid = Decimal(str(ticker["bid"]))
    started = time.perf_counter()
    placed = client.post(
        "/v1/trading/orders",
        json={"exchange": "NASDAQ", "symbol": "MSFT", "side": "buy", "type": "limit",
              "quantity": 1, "price": str(bid)},
        headers=headers,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert placed.status_code == 201, placed.text
    assert placed.json()["data"]["status"] == "open"
    return elapsed


def wait_for_state(
    client: TestClient, headers: dict[str, str], deployment_id: str, state: str
) -> dict[str, object]:
    deadline = time.monotonic() + BUDGET * 10 + 5
    while True:
        path = f"/v1/strategies/deployments/{deployment_id}"
        found = client.get(path, headers=headers).json()["data"]
        if found["state"] == state or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def logs_of(client: TestClient, headers: dict[str, str], deployment_id: str) -> str:
    path = f"/v1/strategies/deployments/{deployment_id}/logs"
    body = client.get(path, headers=headers).json()["data"]
    return "\n".join(line["message"] for line in body["logs"])


BUDGET = 0.75  # short, yet long enough for a loaded 2-core machine to run a worker
