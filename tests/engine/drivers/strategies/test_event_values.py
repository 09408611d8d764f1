"""A TradeTick built from the engine's TradeEvent carries what the trade's wire dict says:
the same exchange, symbol, id, price, quantity and side, and the moment its microseconds name,
across seconds, before the epoch, and for trades of several instruments in turn; the C core's
(event_values.c) is the Python reference's, value for value."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from velocimex_cli.engine.core.events import TradeEvent
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import BUY, NATIVE, SELL
from velocimex_cli.engine.drivers.strategies import event_values
from velocimex_cli.engine.drivers.strategies.context import TradeTick
from velocimex_cli.engine.drivers.strategies.event_values import trade_tick
from velocimex_cli.wire.timefmt import from_micros, parse_iso, to_micros


def events() -> list[TradeEvent]:
    catalogue = Catalogue()
    instruments = [catalogue.find("BINANCE", "BTC/USDT"), catalogue.find("NASDAQ", "AAPL")]
    rng = random.Random(5)
    start = to_micros(datetime(2026, 1, 5, 23, 59, 59, 999_000, tzinfo=UTC))
    moments = [start + step for step in range(0, 4000, 7)]  # across a second and a day
    moments += [-1, -1_000_001, 0, 999_999, 1_000_000]  # around the epoch
    moments += [start + rng.randint(0, 10**12) for _ in range(200)]
    found = []
    for trade_id, micros in enumerate(moments, 1):
        for _ in range(rng.choice((1, 2))):  # the same moment twice: a command's trades
            instrument = rng.choice(instruments)
            found.append(
                TradeEvent(
                    instrument,
                    trade_id,
                    rng.randint(1, 10**9),
                    rng.randint(1, 10**6),
                    rng.choice((BUY, SELL)),
                    micros,
                )
            )
    return found


def test_a_trade_tick_says_what_the_trade_says() -> None:
    for event in events():
        tick = trade_tick(event)
        wire = event.trade
        assert tick.exchange == wire["exchange"] and tick.symbol == wire["symbol"]
        assert tick.trade_id == wire["trade_id"] and tick.side == wire["side"]
        assert tick.price == wire["price"] and str(tick.price) == str(wire["price"])
        assert tick.quantity == wire["quantity"]
        assert str(tick.quantity) == str(wire["quantity"])
        assert tick.timestamp == from_micros(event.micros) == parse_iso(wire["timestamp"])
        assert tick.timestamp.tzinfo is UTC


@pytest.mark.skipif(not NATIVE, reason="the C core is not built")
def test_the_c_trade_tick_is_the_python_one() -> None:
    catalogue = Catalogue()
    replaced = dataclasses.replace(catalogue.find("BINANCE", "BTC/USDT"))  # same index, new terms
    later = [dataclasses.replace(e, instrument=replaced) for e in events()[:50]]
    for event in [*events(), *later]:
        native, python = trade_tick(event), event_values._trade_tick(event)
        assert type(native) is type(python) is TradeTick
        assert native == python
        assert [type(value) for value in native] == [type(value) for value in python]
        assert native.timestamp.tzinfo is python.timestamp.tzinfo is UTC
        assert str(native.price) == str(python.price)


@pytest.mark.skipif(not NATIVE, reason="the C core is not built")
def test_the_c_trade_tick_reads_any_trade_as_python_does() -> None:
    """Ids the C core writes out itself and those it leaves to str(), and a trade that is not
    the engine's TradeEvent (read by attribute, not from its slots)."""

    class Duck:
        def __init__(self, event: TradeEvent) -> None:
            for name in ("instrument", "trade_id", "price", "lots", "side", "micros"):
                setattr(self, name, getattr(event, name))

    base = events()[0]
    ids = [0, 9, 10, 2**63 - 1, 2**63, 10**30, -5]
    trades: list[Any] = [dataclasses.replace(base, trade_id=i) for i in ids]
    trades += [Duck(event) for event in events()[:20]]
    for event in trades:
        native, python = trade_tick(event), event_values._trade_tick(event)
        assert native == python and type(native.trade_id) is str
    assert [trade_tick(t).trade_id for t in trades[: len(ids)]] == [str(i) for i in ids]
