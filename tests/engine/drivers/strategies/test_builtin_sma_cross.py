"""sma-cross on a crafted tape: it trades exactly at the crossings a naive moving-average
computation finds, long on a cross up, flat (or short) on a cross down, nowhere else."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.engine.drivers.strategies.conftest import SimClock
from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.drivers.strategies.builtin.sma_cross import SmaCross
from velocimex_cli.engine.drivers.strategies.context import InstrumentSpec, PositionInfo, TradeTick
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.wire.errors import InvalidParameter

TAPE = [
    # falling, then rising (cross up), then falling (cross down), then flat
    *[Decimal(60000 - 100 * i) for i in range(10)],
    *[Decimal(59200 + 150 * i) for i in range(10)],
    *[Decimal(60500 - 200 * i) for i in range(10)],
    *[Decimal(58700)] * 5,
]
PRINT = {"exchange": "BINANCE", "symbol": "BTC/USDT", "quantity": "0.0001"}


def naive_crossings(prices: list[Decimal], fast: int, slow: int) -> list[tuple[int, int]]:
    """(index of the print, +1 up / -1 down) by recomputing both averages from scratch."""
    found, trend = [], 0
    for i in range(slow - 1, len(prices)):
        f = sum(prices[i - fast + 1 : i + 1]) / fast
        s = sum(prices[i - slow + 1 : i + 1]) / slow
        now = (f > s) - (f < s)
        if now and now != trend:
            if trend:
                found.append((i, now))
            trend = now
    return found


def run_tape(params: dict) -> tuple[StrategyHost, list[Decimal], list[tuple[int, Decimal]]]:
    """Print TAPE on BINANCE BTC/USDT, the host stepping after each print. Returns the host,
    every trade price the instrument printed (the strategy's own included, as it saw them)
    and the deployment's position after each step."""
    clock = SimClock()
    exchange = Exchange(EngineConfig(seed=1), clock)
    for name in ("trader", "lp", "seller", "buyer"):
        exchange.ensure_account(name)
    # Far-away liquidity for the strategy's market orders; prints happen between.
    exchange.place_order("lp", {**PRINT, "side": "buy", "price": "50000", "quantity": "0.5"})
    exchange.place_order("lp", {**PRINT, "side": "sell", "price": "70000", "quantity": "0.5"})
    tape: list[Decimal] = []
    exchange.add_listener(
        lambda event: tape.append(event.trade["price"]) if isinstance(event, TradeEvent) else None
    )
    host = StrategyHost(
        exchange, SmaCross, deployment_id="sma", account="trader",
        exchange_name="BINANCE", symbol="BTC/USDT", params=params,
    )  # fmt: skip
    host.start()
    positions = []
    for index, price in enumerate(TAPE):
        clock.advance(timedelta(seconds=1))
        exchange.place_order("seller", {**PRINT, "side": "sell", "price": str(price)})
        exchange.place_order(
            "buyer", {**PRINT, "side": "buy", "price": str(price), "time_in_force": "ioc"}
        )
        host.step()
        positions.append((index, host.tally.position(host.instrument).quantity))
    host.step()  # the last own print
    return host, tape, positions


def changes(positions: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    out, last = [], Decimal(0)
    for index, quantity in positions:
        if quantity != last:
            out.append((index, quantity))
            last = quantity
    return out


def logged_crossings(host: StrategyHost) -> list[tuple[int, Decimal]]:
    found = []
    for record in host.logs:
        words = record["message"].split()
        if words[0] == "cross":
            found.append((1 if words[1] == "up" else -1, Decimal(words[3].rstrip(":"))))
    return found


def test_sma_cross_trades_at_the_crossings_and_only_there() -> None:
    host, tape, positions = run_tape({"fast": 3, "slow": 6, "order_amount": "0.001"})
    expected = naive_crossings(tape, 3, 6)
    assert len(expected) >= 2
    assert logged_crossings(host) == [(d, tape[i]) for i, d in expected]
    # The crafted tape's own first crossing is up, right after the 13th print.
    assert changes(positions)[0] == (expected[0][0], Decimal("0.001"))
    # Long after each cross up, flat after each cross down: one order per crossing.
    held = [q for _, q in changes(positions)]
    assert set(held) == {Decimal("0.001"), Decimal(0)}
    assert host.strategy.crossings == len(expected)
    assert host.status()["orders"] == len(expected)
    assert host.state == "running"


def test_sma_cross_goes_short_when_allowed() -> None:
    params = {"fast": 3, "slow": 6, "order_amount": "0.001", "allow_short": "yes"}
    host, tape, positions = run_tape(params)
    expected = naive_crossings(tape, 3, 6)
    assert logged_crossings(host) == [(d, tape[i]) for i, d in expected]
    assert {q for _, q in changes(positions)} == {Decimal("0.001"), Decimal("-0.001")}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"fast": 10, "slow": 10}, "fast"),
        ({"fast": 0}, "fast"),
        ({"slow": "many"}, "slow"),
        ({"order_amount": "0.000001"}, "order_amount"),
        ({"allow_short": "perhaps"}, "allow_short"),
    ],
)
def test_bad_sma_parameters_are_named(params: dict, named: str) -> None:
    exchange = Exchange(EngineConfig(), SimClock())
    exchange.ensure_account("trader")
    with pytest.raises(InvalidParameter) as caught:
        StrategyHost(
            exchange, SmaCross, deployment_id="x", account="trader",
            exchange_name="BINANCE", symbol="BTC/USDT", params=params,
        )  # fmt: skip
    assert caught.value.details["parameter"] == named


class RecordingContext:
    """What SmaCross asks of its context, answered flat: it logs each crossing it trades."""

    instrument = InstrumentSpec(
        "BINANCE", "BTC/USDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
        Decimal("0.0001"),
    )  # fmt: skip

    def __init__(self) -> None:
        self.crossings: list[tuple[int, Decimal]] = []

    def position(self) -> PositionInfo:
        zero = Decimal(0)
        return PositionInfo("BINANCE", "BTC/USDT", zero, None, zero, zero)

    def log(self, message: str, level: str = "info") -> None:
        words = message.split()
        if words[0] == "cross":
            self.crossings.append((1 if words[1] == "up" else -1, Decimal(words[3].rstrip(":"))))

    def place_order(self, side: str, quantity: Decimal) -> None:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sma_cross_finds_the_naive_crossings_at_any_precision(seed: int) -> None:
    """Prices on the tick, coarser than it, finer than it (a price with more digits than the
    tick widens what the strategy keeps) and negative: the crossings are those the averages
    recomputed from scratch give, at the same prints."""
    rng = random.Random(seed)
    prices, price = [], Decimal("60000.00")
    for index in range(3000):
        price += Decimal(rng.randint(-300, 300)) / 100
        if index == 1000:
            price = price.quantize(Decimal("0.1"))
        if index in (1500, 2200):  # finer than the tick from here on, then finer again
            price += Decimal("0.005") if index == 1500 else Decimal("0.0003")
        prices.append(-price if seed == 3 else price)
    prices.insert(10, Decimal("6E+4"))
    context = RecordingContext()
    strategy = SmaCross(context, {"fast": 5, "slow": 13, "allow_short": True})  # type: ignore[arg-type]
    strategy.on_start()
    stamp = datetime(2026, 1, 5, tzinfo=UTC)
    for index, price in enumerate(prices):
        strategy.on_trade(
            TradeTick("BINANCE", "BTC/USDT", str(index), price, Decimal(1), "buy", stamp)
        )
    expected = naive_crossings(prices, 5, 13)
    assert len(expected) > 50
    assert context.crossings == [(d, prices[i]) for i, d in expected]
