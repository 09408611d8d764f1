"""Candles under the simulated market, through the engine node (stepped, on a real data
directory): they equal the OHLCV of the stored trades after a crash (no close), and a commit the
store could not write leaves them exactly as stored (nothing of the rolled-back batch counted,
then or later)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FakeClock
from velocimex_cli.engine.core.candles import candle_wire
from velocimex_cli.engine.database import DB_NAME
from velocimex_cli.engine.node import EngineNode, NodeSettings

INTERVALS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}


def started(data_dir: Path, clock: FakeClock) -> EngineNode:
    settings = NodeSettings(data_dir=data_dir, simulate=False, always_open=True, deployments=False)
    node = EngineNode(settings, clock)
    node.start()
    return node


def step(node: EngineNode, clock: FakeClock, minutes: float) -> None:
    for _ in range(int(minutes * 60 / 5)):
        clock.advance(seconds=5)
        node.step()


def from_trades(data_dir: Path, node: EngineNode, symbol: str, interval: str) -> list[dict]:
    """The candles worked out from the stored trades table (simulated trades included)."""
    instrument = node.exchange.instrument("BINANCE", symbol)
    width = INTERVALS[interval] * 1_000_000
    with sqlite3.connect(data_dir / DB_NAME) as connection:
        trades = connection.execute(
            "SELECT price, lots, timestamp FROM trades WHERE exchange = 'BINANCE' AND symbol = ? "
            "ORDER BY trade_id",
            (symbol,),
        ).fetchall()
    candles: dict[int, list[int]] = {}
    for price, lots, timestamp in trades:
        start = timestamp - timestamp % width
        c = candles.get(start)
        if c is None:
            candles[start] = [start, price, price, price, price, lots, 1, price * lots]
            continue
        c[2], c[3], c[4] = max(c[2], price), min(c[3], price), price
        c[5] += lots
        c[6] += 1
        c[7] += price * lots
    return [candle_wire(instrument, candles[start]) for start in sorted(candles)]


def shown(node: EngineNode, symbol: str, interval: str) -> list[dict[str, Any]]:
    return node.candles(node.exchange.instrument("BINANCE", symbol), interval, 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 24, 23, 50, tzinfo=UTC))  # a day ends on the way


@pytest.fixture
def node(tmp_path: Path, clock: FakeClock) -> Iterator[EngineNode]:
    started_node = started(tmp_path / "engine", clock)
    yield started_node
    started_node.close()


def test_simulated_trades_make_the_candles_and_a_crash_keeps_them(
    tmp_path: Path, clock: FakeClock, node: EngineNode
) -> None:
    data_dir = tmp_path / "engine"
    step(node, clock, 14)  # across midnight
    for symbol in ("BTC/USDT", "ETH/USDT"):
        for interval in INTERVALS:
            expected = from_trades(data_dir, node, symbol, interval)
            assert shown(node, symbol, interval) == expected, (symbol, interval)
    assert len(shown(node, "BTC/USDT", "1d")) == 2 and len(shown(node, "BTC/USDT", "1m")) > 10
    before = shown(node, "BTC/USDT", "1m")
    # A crash: a second engine opens the data directory the first never closed.
    crashed = started(data_dir, clock)
    try:
        assert shown(crashed, "BTC/USDT", "1m") == before
        step(crashed, clock, 2.5)
        for interval in INTERVALS:
            assert shown(crashed, "BTC/USDT", interval) == from_trades(
                data_dir, crashed, "BTC/USDT", interval
            )
    finally:
        crashed.close()


def test_a_batch_that_could_not_be_stored_leaves_the_candles_as_stored(
    tmp_path: Path, clock: FakeClock, node: EngineNode
) -> None:
    data_dir = tmp_path / "engine"
    step(node, clock, 1)
    # Every commit that stores a trade fails (as a full disk fails it) until the triggers go:
    # late in the transaction, after the trades and their candles were written (positions
    # are written after them; a trade always moves two).
    connection = node.exchange._store.connection  # type: ignore[attr-defined]  # a SqliteStore
    for event in ("INSERT", "UPDATE"):
        connection.execute(
            f"CREATE TEMP TRIGGER no_room_{event} BEFORE {event} ON positions "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    symbols = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    before = {(s, i): shown(node, s, i) for s in symbols for i in INTERVALS}
    refusals = 0
    for _ in range(60):
        clock.advance(seconds=5)
        node.step()
        refusals += node.exchange.storage_refusal is not None
    assert refusals, "no batch with trades was refused"
    assert {(s, i): shown(node, s, i) for s in symbols for i in INTERVALS} == before
    connection.execute("DROP TRIGGER no_room_INSERT")
    connection.execute("DROP TRIGGER no_room_UPDATE")
    step(node, clock, 2)
    assert node.exchange.storage_refusal is None
    for symbol in symbols:
        for interval in INTERVALS:
            expected = from_trades(data_dir, node, symbol, interval)
            assert shown(node, symbol, interval) == expected, (symbol, interval)
