"""`python -m benchmarks strategy_dispatch`: what running a strategy in-process costs per event.

A tape of trade prints on BINANCE BTC/USDT (a resting sell, then a crossing buy: one trade, two
book changes and four order events per print), run twice through the same engine entry point,
measured in this process:

- baseline: the tape with one no-op listener that wants what a strategy's host is sent besides
  its own account's events: the public trades (Interest: no accounts, no book events), so the
  engine builds the same trade events and the difference is the strategy layer;
- value: the tape with a `StrategyHost` running the built-in `sma-cross` (fast 10, slow 30),
  stepped after every print, the way a backtest drives it.

The summary's ratio is value / baseline (target >= 0.8: the strategy layer is a small part of
an event's cost). A second figure isolates the strategy layer itself: building the TradeTick
from the engine's TradeEvent and running `SmaCross.on_trade`, per event, with no engine (the
trades a millisecond apart, as on the tape: each tick has its own timestamp to build).
A third, `per_print_steps`, says where the hosted tape's extra time goes, in microseconds per
print, from two more tapes in the same rounds: a host whose strategy's on_trade does nothing
(the listener, the queue, the step, the dispatch and the TradeTick), and sma-cross with its
orders left out (its on_trade); the rest is the orders it places at its crossings.
Times are this process's CPU time (the machine is shared: wall time would measure the
neighbours), runs alternate and the best of each is kept.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange, Interest
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.builtin.sma_cross import SmaCross
from velocimex_cli.engine.drivers.strategies.context import InstrumentSpec
from velocimex_cli.engine.drivers.strategies.event_values import trade_tick
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.wire.timefmt import to_micros

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
PARAMS = {"fast": 10, "slow": 30, "order_amount": "0.001"}


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _prices(count: int) -> list[int]:
    rng = random.Random(7)
    price, out = 6_000_000, []
    for _ in range(count):
        price += rng.randint(-3, 3)
        out.append(price)
    return out


class _Listening(Strategy):
    """A strategy that takes every trade and does nothing with it: what hosting costs."""

    id = "listening"
    params = SmaCross.params
    crossings = 0

    def on_trade(self, trade: Any) -> None:
        pass


class _NoOrders(SmaCross):
    """sma-cross without its orders: what its on_trade costs."""

    def _target(self, trend: int, price: Decimal) -> None:
        pass


def _tape(
    prices: list[int], with_strategy: bool, strategy_cls: type[Strategy] = SmaCross
) -> tuple[float, int]:
    """Seconds to print the tape, and how many crossings the strategy traded."""
    clock = _Clock()
    exchange = Exchange(EngineConfig(), clock)
    for name in ("trader", "seller", "buyer"):
        exchange.ensure_account(name)
    for name in ("seller", "buyer"):  # they print the tape, thousands of orders a second
        exchange.set_risk_limits(name, {"max_orders_per_second": None})
    exchange.fund("seller", "BTC", Decimal(1000))
    exchange.fund("buyer", "USDT", Decimal(10**9))
    instrument = exchange.catalogue.find("BINANCE", "BTC/USDT")
    seller = exchange.ledger.accounts["seller"]
    buyer = exchange.ledger.accounts["buyer"]
    host: StrategyHost | None = None
    if with_strategy:
        host = StrategyHost(
            exchange, strategy_cls, deployment_id="bench", account="trader",
            exchange_name="BINANCE", symbol="BTC/USDT", params=PARAMS,
        )  # fmt: skip
        host.start()
    else:
        exchange.add_listener(lambda event: None, Interest(accounts=frozenset(), books=False))
    place = exchange.place
    second = timedelta(milliseconds=1)
    started = time.process_time()
    for price in prices:
        clock.now += second
        place(seller, instrument, SELL, 10, price)
        place(buyer, instrument, BUY, 10, price)
        if host is not None:
            host.step()
    elapsed = time.process_time() - started
    crossings = host.strategy.crossings if host is not None else 0  # type: ignore[union-attr]
    return elapsed, crossings


class _Context:
    instrument = InstrumentSpec(
        "BINANCE", "BTC/USDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
        Decimal("0.0001"),
    )  # fmt: skip


def _strategy_only(prices: list[int]) -> float:
    """Seconds for the strategy layer alone: TradeEvent -> TradeTick -> on_trade (no orders)."""
    strategy = SmaCross(_Context(), PARAMS)  # type: ignore[arg-type]
    strategy.on_start()
    strategy._target = lambda trend, price: None  # type: ignore[method-assign]
    instrument = Catalogue().find("BINANCE", "BTC/USDT")
    micros = to_micros(START)
    payloads = [
        TradeEvent(instrument, i, p, 10, BUY, micros + i * 1000) for i, p in enumerate(prices)
    ]
    on_trade = strategy.on_trade
    started = time.process_time()
    for payload in payloads:
        on_trade(trade_tick(payload))
    return time.process_time() - started


def run(quick: bool = False) -> Iterator[dict[str, Any]]:
    count = 2_000 if quick else 50_000
    rounds = 5 if quick else 3  # a quick tape is short: more rounds steady its best
    prices = _prices(count)
    bare = hosted = only = listening = no_orders = float("inf")
    crossings = 0
    for _ in range(rounds):
        bare = min(bare, _tape(prices, False)[0])
        elapsed, crossings = _tape(prices, True)
        hosted = min(hosted, elapsed)
        only = min(only, _strategy_only(prices))
        listening = min(listening, _tape(prices, True, _Listening)[0])
        no_orders = min(no_orders, _tape(prices, True, _NoOrders)[0])
    yield {
        "figure": "strategy_layer_alone",
        "events": count,
        "events_per_second": round(count / only),
        "ns_per_event": round(only / count * 1e9),
        "note": "TradeTick from the trade payload + SmaCross.on_trade, no engine",
    }

    def micros_per_print(seconds: float) -> float:
        return round(seconds / count * 1e6, 3)

    yield {
        "figure": "per_print_steps",
        "unit": "us per print",
        "bare_tape": micros_per_print(bare),
        "hosting": micros_per_print(listening - bare),
        "sma_on_trade": micros_per_print(no_orders - listening),
        "orders": micros_per_print(hosted - no_orders),
        "note": "hosting: listener, queue, step, dispatch, TradeTick; orders: at the crossings",
    }
    yield {
        "figure": "tape_with_sma_cross",
        "prints": count,
        "prints_per_second": round(count / hosted),
        "bare_prints_per_second": round(count / bare),
        "crossings_traded": crossings,
    }
    value, baseline = count / hosted, count / bare
    yield {
        "figure": "summary",
        "metric": "trade prints per second with an sma-cross StrategyHost vs without",
        "value": round(value),
        "baseline": round(baseline),
        "ratio": round(value / baseline, 3),
        "target": 0.8,
        "quick": quick,
    }
