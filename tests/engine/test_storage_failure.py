"""A commit the store cannot write is rolled back, under the C core and the pure-Python one.

A real engine.db whose connection may not grow it any more (SQLite's max_page_count: the same
SQLITE_FULL a full disk gives) takes orders through `Exchange.place`, which the C engine path
serves whenever it can (resting limits, crossing market orders with fills against the
simulated maker). The order whose commit fails raises STORAGE_UNAVAILABLE ("not placed"), and
everything the engine shows is exactly what it showed before it, and exactly what a fresh open
of the file shows; later changes are refused at entry until the store works again, then run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import FakeClock
from tests.core_variants import run_script
from tests.engine.drivers.strategies.conftest import QUOTER, add, make_node, run

SCRIPT = r"""
import json, sys
from datetime import UTC, datetime
from pathlib import Path

from velocimex_cli.engine.core.exchange import EngineConfig
from velocimex_cli.engine.core.orders import BUY, NATIVE, SELL
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.engine.store import open_exchange
from velocimex_cli.wire.errors import StorageUnavailable


def clock():
    return datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def view(exchange):
    def book(i):
        shown = exchange.order_book(i.exchange, i.symbol, depth=1000)
        return {k: v for k, v in shown.items() if k not in ("sequence", "timestamp")}

    return json.loads(json.dumps({
        "orders": exchange.list_orders("alice", status="all", limit=1000),
        "fills": exchange.list_fills("alice", limit=1000),
        "balances": {u: exchange.balances(u) for u in ("alice", "sim-maker", "fees")},
        "positions": exchange.positions("alice"),
        "books": [book(i) for i in exchange.catalogue.instruments],
    }, default=str))


data_dir = Path(sys.argv[1])
config = EngineConfig(always_open=True)
exchange = open_exchange(data_dir, config, clock)
MarketSimulator(exchange, seed=7).seed_books()
exchange.ensure_account("alice")
alice = exchange.ledger.accounts["alice"]
btc = exchange.catalogue.find("BINANCE", "BTC/USDT")
connection = exchange._store.connection
pages = connection.execute("PRAGMA page_count").fetchone()[0]
connection.execute(f"PRAGMA max_page_count = {pages}")

placed, refused, before = 0, None, None
for n in range(3000):
    before = view(exchange)
    side = BUY if n % 2 else SELL
    price = None if n % 3 == 0 else (5_900_000 if side == BUY else 6_100_000)
    try:
        exchange.place(alice, btc, side, 10, price)
    except StorageUnavailable as exc:
        refused = exc
        break
    placed += 1
after = view(exchange)
try:
    exchange.place(alice, btc, BUY, 10, 5_900_000)
    again = None
except StorageUnavailable as exc:
    again = exc.message

connection.execute("PRAGMA max_page_count = 1000000")
works = exchange.storage_works()
exchange.resume_storing()
later, _ = exchange.place(alice, btc, BUY, 10, None)
resumed = view(exchange)
exchange.close()
reopened = open_exchange(data_dir, config, clock)
print(json.dumps({
    "native": NATIVE,
    "placed": placed,
    "refused": None if refused is None else [refused.code.value, refused.message],
    "unchanged": after == before,
    "again": again,
    "works": works,
    "later_filled": later.filled,
    "reopened_equal": view(reopened) == resumed,
}))
reopened.close()
"""


@pytest.mark.parametrize("pure", [False, True], ids=["c-core", "pure-python"])
def test_a_commit_that_cannot_be_written_is_rolled_back(tmp_path: Path, pure: bool) -> None:
    result = run_script(SCRIPT, [str(tmp_path / "engine")], pure)
    assert result["native"] is not pure
    assert result["placed"] > 0
    assert result["refused"] == [
        "STORAGE_UNAVAILABLE",
        "not done: the engine could not store it; nothing was executed",
    ]
    assert result["unchanged"], "memory shows a change the engine did not store"
    assert result["again"] == "not placed: the engine could not store it; nothing was executed"
    assert result["works"] and result["later_filled"] > 0
    assert result["reopened_equal"]


def test_deployments_stop_and_the_node_resumes_by_itself(tmp_path: Path, clock: FakeClock) -> None:
    """A stepped node: the failed commit stops the running deployment (what its worker was told
    may have been rolled back), the simulator does not trade meanwhile, and once the store
    writes again the node steps on and deploys again."""
    node = make_node(tmp_path / "engine", clock)
    try:
        deployments = node.deployments
        assert deployments is not None
        add(node, QUOTER)
        status = asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
        run(node, clock, 3)
        resting = node.exchange.list_orders("alice", status="open")
        assert len(resting) == 1

        connection = node.exchange._store.connection  # type: ignore[attr-defined]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")
        book = node.exchange.order_book("BINANCE", "BTC/USDT", depth=1000)
        for _ in range(200):
            run(node, clock, 1)
            if node.exchange.storage_refusal is not None:
                break
        assert node.exchange.storage_refusal is not None, "the store never refused a commit"
        stopped = deployments.get(status["deployment_id"], "alice")
        assert stopped["state"] == "failed" and "could not store" in stopped["stop_reason"]
        assert node.exchange.list_orders("alice", status="open") == resting  # as stored
        shown = node.exchange.order_book("BINANCE", "BTC/USDT", depth=1000)
        run(node, clock, 3)  # refused: nothing trades
        later = node.exchange.order_book("BINANCE", "BTC/USDT", depth=1000)
        assert (later["sequence"], later["bids"], later["asks"]) == (
            shown["sequence"], shown["bids"], shown["asks"],
        )  # fmt: skip
        assert shown["sequence"] >= book["sequence"]

        connection.execute("PRAGMA max_page_count = 1000000")
        run(node, clock, 1)
        assert node.exchange.storage_refusal is None
        again = asyncio.run(deployments.deploy("alice", "quoter", "BINANCE", "BTC/USDT", {}))
        run(node, clock, 3)
        assert deployments.get(again["deployment_id"], "alice")["state"] == "running"
    finally:
        node.close()
