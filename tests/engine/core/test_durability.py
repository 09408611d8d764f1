"""Durable store: restart restores books, ledger, fills and positions exactly; schema migrations;
the simulator is deterministic and trades through the same engine as users."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import FakeClock
from tests.engine.core.trading import USERS, trade_a_while
from velocimex_cli.engine.core.events import Event
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.risk import RiskLimits
from velocimex_cli.engine.database import SCHEMA_VERSION, StoreError, connect
from velocimex_cli.engine.drivers.simulator import MAKER, MarketSimulator
from velocimex_cli.engine.store import open_exchange


def snapshot(exchange: Exchange) -> dict[str, object]:
    return {
        "hash": exchange.state_hash(),
        "orders": {u: exchange.list_orders(u, status="all", limit=1000) for u in USERS},
        "fills": {u: exchange.list_fills(u, limit=1000) for u in USERS},
        "balances": {u: exchange.balances(u) for u in (*USERS, "fees", MAKER)},
        "positions": {u: exchange.positions(u) for u in USERS},
        "books": [
            exchange.order_book(i.exchange, i.symbol, depth=1000)
            for i in exchange.catalogue.instruments
        ],
    }


def test_restart_restores_state_exactly(tmp_path: Path, clock: FakeClock) -> None:
    config = EngineConfig(seed=7)
    exchange = open_exchange(tmp_path, config, clock)
    simulator = trade_a_while(exchange, clock, seed=7, steps=30, orders_seed=1)
    simulator.save_state()
    before = snapshot(exchange)
    assert any(o["status"] == "open" for o in before["orders"]["alice"])  # type: ignore[index]
    assert any(before["fills"].values())  # type: ignore[attr-defined]
    exchange.close()

    reopened = open_exchange(tmp_path, config, clock)
    assert snapshot(reopened) == before
    # The restored simulator carries on from where it stopped, as the original would have.
    resumed = MarketSimulator(reopened, seed=7)
    assert resumed.fair == simulator.fair and resumed.steps == simulator.steps
    clock.advance(seconds=0.2)
    resumed.step()
    reopened.close()


def test_after_a_crash_everything_acknowledged_is_back_and_no_id_repeats(
    tmp_path: Path, clock: FakeClock
) -> None:
    config = EngineConfig(seed=3)
    crashed = open_exchange(tmp_path, config, clock)
    trade_a_while(crashed, clock, seed=3, steps=20, orders_seed=5)
    before = snapshot(crashed)
    order_ids = {o["order_id"] for orders in before["orders"].values() for o in orders}  # type: ignore[attr-defined]
    trade_ids = {f["trade_id"] for fills in before["fills"].values() for f in fills}  # type: ignore[attr-defined]
    assert trade_ids
    # No close(): a second engine opens the files the first one was writing, as after a crash.
    restarted = open_exchange(tmp_path, config, clock)
    after = snapshot(restarted)
    for key in ("orders", "fills", "balances", "positions"):
        assert after[key] == before[key]
    for old, new in zip(before["books"], after["books"], strict=True):  # type: ignore[call-overload]
        assert (new["bids"], new["asks"]) == (old["bids"], old["asks"])
        assert new["sequence"] >= old["sequence"]  # a resuming client sees a gap, never a repeat
    assert restarted.next_order_id > max(int(i) for i in order_ids)
    assert restarted.next_trade_id > max(int(i) for i in trade_ids)
    placed, _ = restarted.place_order(
        "alice",
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.01",
         "price": "1000.00"},
    )  # fmt: skip
    assert placed["order_id"] not in order_ids
    restarted.close()


def test_acknowledged_order_is_on_disk_before_the_call_returns(
    tmp_path: Path, clock: FakeClock
) -> None:
    exchange = open_exchange(tmp_path, EngineConfig(), clock)
    exchange.ensure_account("alice")
    placed, _ = exchange.place_order(
        "alice",
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.01",
         "price": "50000.00"},
    )  # fmt: skip
    # A second, independent connection sees the order and its lock: no close, no flush needed.
    reader = sqlite3.connect(tmp_path / "engine.db")
    (status,) = reader.execute(
        "SELECT status FROM orders WHERE id = ?", (int(placed["order_id"]),)
    ).fetchone()
    (locked,) = reader.execute(
        "SELECT locked FROM balances WHERE account = 'alice' AND asset = 'USDT'"
    ).fetchone()
    assert status == "open" and locked == 50_010_000_000  # 500 USDT + 2 bp, in 1e-8 units
    reader.close()
    exchange.close()


def test_schema_is_versioned_and_newer_files_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    connect(db).close()
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="newer than this vmx"):
        connect(db)


def run_simulation(seed: int, steps: int) -> tuple[list[Event], str]:
    clock = FakeClock()
    exchange = Exchange(EngineConfig(seed=seed), clock)
    events: list[Event] = []
    exchange.add_listener(events.append)
    simulator = MarketSimulator(exchange, seed=seed)
    simulator.seed_books()
    for _ in range(steps):
        clock.advance(seconds=0.25)
        simulator.step()
    return events, exchange.state_hash()


def test_same_seed_gives_the_same_events() -> None:
    first, first_hash = run_simulation(3, 40)
    second, second_hash = run_simulation(3, 40)
    assert len(first) > 1000
    assert first == second and first_hash == second_hash
    _, other_hash = run_simulation(4, 40)
    assert other_hash != first_hash


def test_simulated_books_stay_deep_and_fill_resting_user_orders(clock: FakeClock) -> None:
    exchange = Exchange(EngineConfig(), clock)
    exchange.ensure_account("alice")
    simulator = MarketSimulator(exchange, seed=11)
    simulator.seed_books()
    ask = exchange.order_book("BINANCE", "BTC/USDT", depth=1)["asks"][0]["price"]
    placed, _ = exchange.place_order(
        "alice",
        {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "sell", "quantity": "0.01",
         "price": ask},
    )  # fmt: skip
    for _ in range(400):
        clock.advance(seconds=0.2)
        simulator.step()
        if exchange.get_order("alice", placed["order_id"])["status"] == "filled":
            break
    assert exchange.get_order("alice", placed["order_id"])["status"] == "filled"
    for instrument in exchange.catalogue.instruments:
        book = exchange.order_book(instrument.exchange, instrument.symbol, depth=1000)
        assert len(book["bids"]) >= 20 and len(book["asks"]) >= 20, instrument.key
        assert book["bids"][0]["price"] < book["asks"][0]["price"]
        ticker = exchange.ticker(instrument.exchange, instrument.symbol)
        reference = instrument.reference_price
        assert reference * 8 / 10 < ticker["bid"] < reference * 12 / 10
    totals = exchange.ledger.totals()
    assert all(totals[asset] == exchange.ledger.funded.get(asset, 0) for asset in totals)


def test_a_background_checkpointer_moves_the_log_into_the_database(
    tmp_path: Path, clock: FakeClock
) -> None:
    # 300 orders at one instant: past the default orders-per-second limit, which is not tested here.
    config = EngineConfig(default_limits=RiskLimits.unlimited())
    exchange = open_exchange(tmp_path, config, clock, checkpoint_seconds=0.05)
    database = tmp_path / "engine.db"
    exchange.ensure_account("alice")
    size_before = database.stat().st_size
    for _ in range(300):  # resting orders: hundreds of pages in the log
        exchange.place_order(
            "alice",
            {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.001",
             "price": "1000.00"},
        )  # fmt: skip
    deadline = time.monotonic() + 5
    while database.stat().st_size <= size_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert database.stat().st_size > size_before  # commits no longer checkpoint: the thread did
    exchange.close()
    reopened = open_exchange(tmp_path, EngineConfig(), clock)
    assert len(reopened.list_orders("alice", limit=1000)) == 300
    reopened.close()
