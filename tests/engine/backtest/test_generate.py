"""`--simulate`'s market (engine/backtest/generate.py): the engine's simulator making one
instrument's market, event for event, and the same events for the same seed, instrument and
duration."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.engine.backtest.conftest import Vmx
from velocimex_cli.engine.backtest.clock import SimulatedClock
from velocimex_cli.engine.backtest.data import BOOK, TRADE, Event
from velocimex_cli.engine.backtest.generate import EPOCH, STEP_MICROS, simulate
from velocimex_cli.engine.core.events import BookEvent, TradeEvent
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.timefmt import parse_iso, to_micros


def engine_market(exchange_name: str, symbol: str, seconds: int, seed: int) -> list[Event]:
    """The same market made by the real exchange: the simulator's maker and taker placing and
    canceling orders through its order entry and matching, its book and trade events captured."""
    start = to_micros(parse_iso(EPOCH))
    clock = SimulatedClock(start)
    exchange = Exchange(EngineConfig(seed=seed, always_open=True), clock)
    instrument = exchange.catalogue.find(exchange_name, symbol)
    simulator = MarketSimulator(exchange, seed=seed, instruments=[instrument])
    simulator.seed_books()
    book = exchange.books[instrument.index]
    events: list[Event] = [
        (start, BOOK, True, tuple(book.depth(BUY, 1000)), tuple(book.depth(SELL, 1000)))
    ]

    def capture(event: object) -> None:
        if isinstance(event, TradeEvent):
            trade = event.trade
            assert (trade["exchange"], trade["symbol"]) == (exchange_name, symbol)
            side = BUY if trade["side"] == "buy" else SELL
            price, lots = instrument.ticks_of(trade["price"]), instrument.lots_of(trade["quantity"])
            events.append((clock.micros, TRADE, side, price, lots))
        elif isinstance(event, BookEvent):
            assert (event.exchange, event.symbol) == (exchange_name, symbol)
            bids, asks = [], []
            for change in event.changes:
                level = (
                    instrument.ticks_of(change["price"]),
                    instrument.lots_of(change["quantity"]),
                )
                (bids if change["side"] == "bid" else asks).append(level)
            events.append((clock.micros, BOOK, False, tuple(bids), tuple(asks)))

    exchange.add_listener(capture)
    for step in range(1, seconds * 1_000_000 // STEP_MICROS + 1):
        clock.set(start + step * STEP_MICROS)
        simulator.step()
    return events


@pytest.mark.parametrize(
    ("exchange_name", "symbol", "seed"),
    [("BINANCE", "BTC/USDT", 42), ("KRAKEN", "ETH/USD", 7), ("NASDAQ", "AAPL", 3)],
)
def test_the_generated_market_is_the_engines_simulator_making_that_market(
    exchange_name: str, symbol: str, seed: int
) -> None:
    expected = engine_market(exchange_name, symbol, 60, seed)
    generated = simulate((exchange_name, symbol), 60, seed).events
    assert sum(e[1] == TRADE for e in generated) > 20, "the minute should have trades"
    assert generated == expected


def digest(events: list[Event]) -> str:
    return hashlib.sha256(jsonfmt.canonical([list(e) for e in events]).encode()).hexdigest()


def test_same_seed_instrument_and_duration_give_the_same_market_another_seed_another() -> None:
    first = simulate(("BINANCE", "BTC/USDT"), 600, 11)
    second = simulate(("BINANCE", "BTC/USDT"), 600, 11)
    assert digest(first.events) == digest(second.events)
    assert (first.first_price, first.last_price) == (second.first_price, second.last_price)
    other_seed = simulate(("BINANCE", "BTC/USDT"), 600, 12)
    assert digest(other_seed.events) != digest(first.events)
    # A longer run starts with the shorter one: the market does not depend on the duration.
    longer = simulate(("BINANCE", "BTC/USDT"), 900, 11)
    assert longer.events[: len(first.events)] == first.events
    assert longer.events[len(first.events)][0] > first.events[-1][0]


def test_progress_is_told_in_steps_up_to_the_end() -> None:
    heard: list[tuple[int, int]] = []
    simulate(
        ("BINANCE", "BTC/USDT"), 450, 1, on_step=lambda done, total: heard.append((done, total))
    )
    assert heard == [(1000, 2250), (2000, 2250), (2250, 2250)]


SMA = ("-e", "BINANCE", "-s", "BTC/USDT", "-p", "fast=3", "-p", "slow=8", "-p", "order_amount=0.01")


def test_generation_has_a_progress_bar_with_rate_and_eta_on_a_terminal(vmx: Vmx) -> None:
    result = vmx.run("backtest", "sma-cross", "--simulate", "20m", *SMA, "--json", stderr_tty=True)
    assert result.exit_code == 0, result.stderr
    assert jsonfmt.loads(result.stdout)["data"] == {"simulate_seconds": 1200, "seed": 42}
    frames = [f for f in result.stderr.split("\r") if "simulating 20m of BINANCE BTC/USDT" in f]
    # Simulated seconds done of the total, a rate and a time left, from the start to the last
    # step (the frames between depend on the refresh rate: how many of them is not checked;
    # that progress is told every 1,000 steps is test_progress_is_told_in_steps_up_to_the_end's).
    assert re.search(r" 0/1200 -/s -:--:--", frames[0]), frames[0]
    assert re.search(r" 1200/1200 [\d,]+/s 0:00:00", frames[-1]), frames[-1]
    # Then the replay's own bar; off a terminal, neither.
    assert "backtest" in result.stderr.split("1200/1200")[-1]
    quiet = vmx.run("backtest", "sma-cross", "--simulate", "20m", *SMA, "--json")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout == result.stdout
