"""A clock that keeps its time as microseconds (the backtest's SimulatedClock) is read as such:
orders and fills carry exactly its time, on the C and the Python engine paths alike."""

from __future__ import annotations

from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.orders import BUY, IOC, SELL
from velocimex_cli.wire.timefmt import iso_from_micros

START = 1_780_000_000_123_456


def test_orders_and_fills_carry_the_simulated_clocks_microseconds() -> None:
    clock = SimulatedClock(START)
    exchange = Exchange(EngineConfig(always_open=True), clock)
    exchange.ensure_account("maker")
    exchange.ensure_account("taker")
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    accounts = exchange.ledger.accounts
    resting, _ = exchange.place(accounts["maker"], instrument, SELL, 5, 6_000_000)
    clock.set(START + 1_500_001)
    taker, _ = exchange.place(accounts["taker"], instrument, BUY, 5, 6_000_000, IOC)
    assert resting.created == START
    assert taker.created == resting.updated == START + 1_500_001
    fills = exchange.list_fills("taker")
    assert [f["timestamp"] for f in fills] == [iso_from_micros(START + 1_500_001)]
