"""What a restart keeps beyond books and balances (issue 8): the ticker's 24-hour volume and
last price (simulated trades included), the open-order count behind max_open_orders, and the
fees in realized PnL of a database written before they were counted."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from tests.conftest import FakeClock
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.database import DB_NAME
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.engine.store import PRUNE_EVERY, open_exchange

BTC = {"exchange": "BINANCE", "symbol": "BTC/USDT"}


def simulate(exchange: Exchange, clock: FakeClock, steps: int) -> None:
    simulator = MarketSimulator(exchange, seed=5)
    simulator.seed_books()
    for _ in range(steps):
        clock.advance(seconds=0.2)
        simulator.step()


def tickers(exchange: Exchange) -> list[tuple[object, object]]:
    return [(t["price"], t["volume"]) for t in exchange.tickers()]


def test_ticker_volume_and_last_price_survive_a_clean_restart_and_a_crash(
    tmp_path: Path, clock: FakeClock
) -> None:
    exchange = open_exchange(tmp_path, EngineConfig(seed=5), clock)
    simulate(exchange, clock, 40)
    before = tickers(exchange)
    assert sum(volume for _, volume in before) > 0  # simulated flow traded (no user at all)
    exchange.close()
    reopened = open_exchange(tmp_path, EngineConfig(seed=5), clock)
    assert tickers(reopened) == before
    # A crash: the store is dropped without close(); committed trades are all there.
    simulate(reopened, clock, 15)
    after_more = tickers(reopened)
    # No close(): a second engine opens the file the first one was writing, as after a crash.
    crashed = open_exchange(tmp_path, EngineConfig(seed=5), clock)
    assert [volume for _, volume in tickers(crashed)] == [v for _, v in after_more]
    # A day later the volume has rolled out of the window; the last price stays.
    clock.advance(hours=24, seconds=1)
    assert all(volume == 0 for _, volume in tickers(crashed))
    assert [price for price, _ in tickers(crashed)] == [price for price, _ in after_more]
    crashed.close()


def test_the_open_order_count_is_rebuilt_on_restart(tmp_path: Path, clock: FakeClock) -> None:
    exchange = open_exchange(tmp_path, EngineConfig(), clock)
    exchange.ensure_account("alice")
    exchange.set_risk_limits("alice", {"max_open_orders": 2})
    order = {**BTC, "side": "buy", "quantity": "0.01", "price": "1000.00"}
    first, _ = exchange.place_order("alice", order)
    exchange.place_order("alice", order)
    exchange.close()
    reopened = open_exchange(tmp_path, EngineConfig(), clock)
    try:
        reopened.place_order("alice", order)
        raise AssertionError("a third open order was accepted after the restart")
    except Exception as exc:
        assert getattr(exc, "details", {}).get("limit") == "max_open_orders", exc
    reopened.cancel_order("alice", first["order_id"])
    placed, _ = reopened.place_order("alice", order)
    assert placed["status"] == "open"
    reopened.close()


def test_migrating_an_old_database_counts_fees_in_realized_pnl(
    tmp_path: Path, clock: FakeClock
) -> None:
    exchange = open_exchange(tmp_path, EngineConfig(), clock)
    exchange.ensure_account("alice")
    exchange.ensure_account("bob")
    sell = {**BTC, "side": "sell", "quantity": "0.1", "price": "60000.00"}
    exchange.place_order("bob", sell)
    exchange.place_order("alice", {**BTC, "side": "buy", "quantity": "0.1", "price": "60000.00"})
    exchange.place_order("alice", {**sell, "price": "61000.00"})
    exchange.place_order("bob", {**BTC, "side": "buy", "quantity": "0.1", "price": "61000.00"})
    (current,) = exchange.positions("alice")
    fees = sum(f["fee"] for f in exchange.list_fills("alice"))
    assert current["realized_pnl"] == Decimal(100) - fees  # 0.1 x (61000 - 60000) - fees
    exchange.close()
    # Make the file what schema 1 wrote: realized PnL without fees, no trades table.
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE positions SET realized = realized + ? WHERE account = 'alice'",
                   (int(fees * 10**8),))  # fmt: skip
        db.execute("DROP TABLE trades")
        db.execute("DROP TABLE account_risk")
        db.execute("PRAGMA user_version = 1")
    migrated = open_exchange(tmp_path, EngineConfig(), clock)
    (position,) = migrated.positions("alice")
    assert position["realized_pnl"] == current["realized_pnl"]
    assert migrated.ticker("BINANCE", "BTC/USDT")["volume"] == Decimal("0.2")
    migrated.close()


def test_trades_older_than_a_day_are_pruned_from_the_file(tmp_path: Path, clock: FakeClock) -> None:
    exchange = open_exchange(tmp_path, EngineConfig(), clock)
    for name in ("alice", "bob"):
        exchange.ensure_account(name)
    sell = {**BTC, "side": "sell", "quantity": "0.001", "price": "60000.00"}
    buy = {**sell, "side": "buy"}

    def trade(count: int) -> None:
        for _ in range(count):
            clock.advance(seconds=0.02)
            exchange.place_order("bob", sell)
            exchange.place_order("alice", buy)

    trade(5)
    clock.advance(hours=25)
    trade(PRUNE_EVERY)  # one deletion of expired trades happens among these commits
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        rows = db.execute("SELECT count(*) FROM trades").fetchone()[0]
    assert rows == PRUNE_EVERY  # the five from a day ago are gone, the rest kept
    assert exchange.ticker("BINANCE", "BTC/USDT")["volume"] == Decimal("0.001") * PRUNE_EVERY
    exchange.close()
