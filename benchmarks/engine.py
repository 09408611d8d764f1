"""`python -m benchmarks engine`: in-process matching throughput, durable acknowledgements, memory.

The stream: about 70% limit adds that rest, 20% cancels of live orders, 10% crossing limit or
market orders, from 8 accounts on one instrument. Three runs over the same stream, measured in
this process:

- baseline: a bare Python loop doing one dict insert per operation;
- book: the order book alone (`OrderBook.rest/remove/take`), i.e. pure matching;
- engine: the full engine entry point (`Exchange.place` / cancel) with ledger locks, fees,
  positions and fills, persistence off. With the C core, these commands run the engine path in
  C (core/native_path.py) whenever the Python path would do nothing else.

Every figure of the book and the summary says which `Order`/`OrderBook` ran: "native" (the C
core, velocimex_cli/engine/core/*.c) or "python" (the fallback, VMX_PURE_PYTHON=1).

Then durable acknowledgements (SQLite, one transaction per order) against the same stream with
persistence off, and the resident memory of 1,000,000 resting orders. The durable figure's store
checkpoints its WAL inside commits (SQLite's default, two fsyncs every 1000 pages); the figure
`durable_acknowledged_orders_served` opens it as `vmx engine serve` does, checkpointing on a
background thread (engine/checkpointer.py), and says how much of a core the committing thread
used (`cpu_seconds_per_order`), which a busy machine's scheduling does not inflate.
"""

from __future__ import annotations

import gc
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from velocimex_cli.engine.api.runtime import CHECKPOINT_SECONDS
from velocimex_cli.engine.core.book import NATIVE, OrderBook
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.orders import BUY, Order, OrderType, TimeInForce
from velocimex_cli.engine.core.risk import RiskLimits
from velocimex_cli.engine.store import open_exchange

ADD, CANCEL, CROSS, MARKET = 0, 1, 2, 3
MID = 6_000_000  # ticks: 60,000.00 USDT
ACCOUNTS = [f"trader{i}" for i in range(8)]
# Which Order/OrderBook ran: the C core, or the pure-Python fallback (VMX_PURE_PYTHON=1).
IMPLEMENTATION = "native" if NATIVE else "python"
Op = tuple[int, int, int, int, int, int]  # kind, id, side, price, lots, account index


def make_stream(count: int, seed: int = 1) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    live: list[int] = []
    next_id = 0
    for _ in range(count):
        roll = rng.random()
        account = rng.randrange(len(ACCOUNTS))
        if roll < 0.7 or not live:
            next_id += 1
            side = rng.randint(0, 1)
            offset = rng.randint(1, 200)
            price = MID - offset if side == BUY else MID + offset
            ops.append((ADD, next_id, side, price, rng.randint(10, 500), account))
            live.append(next_id)
        elif roll < 0.9:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            ops.append((CANCEL, live.pop(), 0, 0, 0, account))
        else:
            next_id += 1
            side = rng.randint(0, 1)
            kind = MARKET if rng.random() < 0.5 else CROSS
            price = MID + 50 if side == BUY else MID - 50
            ops.append((kind, next_id, side, price, rng.randint(10, 1000), account))
    return ops


def run_baseline(ops: list[Op]) -> float:
    store: dict[int, Op] = {}
    start = time.perf_counter()
    for op in ops:
        store[op[1]] = op
    return time.perf_counter() - start


NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _clock() -> datetime:
    return NOW


def _exchange(data_dir: Path | None = None, checkpoint_seconds: float | None = None) -> Exchange:
    config = EngineConfig(
        always_open=True,
        # The stream is 8 accounts' worth of a whole market's flow: far past the per-account
        # limits (which are still checked on every order; None only makes them never bind).
        default_limits=RiskLimits.unlimited(),
        sandbox_funds={"USDT": Decimal(10) ** 10, "BTC": Decimal(10) ** 7},
    )
    exchange = (
        open_exchange(data_dir, config, _clock, checkpoint_seconds=checkpoint_seconds)
        if data_dir
        else Exchange(config, _clock)
    )
    for name in ACCOUNTS:
        exchange.ensure_account(name)
    return exchange


def run_book(ops: list[Op]) -> float:
    exchange = _exchange()
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    book = OrderBook()
    by_id: dict[int, Order] = {}
    gtc, limit = TimeInForce.GTC, OrderType.LIMIT
    start = time.perf_counter()
    for kind, oid, side, price, lots, account in ops:
        if kind == CANCEL:
            order = by_id.pop(oid, None)
            if order is not None and order.resting:
                book.remove(order)
            continue
        order = Order(oid, ACCOUNTS[account], instrument, side, limit, gtc, False, price, lots,
                      None, 0)  # fmt: skip
        if kind == MARKET:
            price = MID * 2 if side == BUY else 1
        filled = sum(f[1] for f in book.take(side, order.account, price, lots, []))
        order.filled = filled
        if kind == ADD and filled < lots:
            book.rest(order)
            by_id[oid] = order
    return time.perf_counter() - start


def run_engine(ops: list[Op], exchange: Exchange, count: int | None = None) -> tuple[float, int]:
    """Seconds for the stream through the engine, and how many orders were acknowledged."""
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    accounts = [exchange.ledger.accounts[name] for name in ACCOUNTS]
    owners = exchange.ledger.accounts
    place, cancel = exchange.place, exchange.cancel_live
    ioc = TimeInForce.IOC
    gtc = TimeInForce.GTC
    by_id: dict[int, Order] = {}
    acknowledged = 0
    start = time.perf_counter()
    for kind, oid, side, price, lots, account in ops[:count]:
        if kind == CANCEL:
            order = by_id.pop(oid, None)
            if order is not None and order.resting:
                cancel(owners[order.account], order)
            continue
        if kind == ADD:
            order, _ = place(accounts[account], instrument, side, lots, price, gtc)
            if order.resting:
                by_id[oid] = order
        elif kind == CROSS:
            place(accounts[account], instrument, side, lots, price, ioc)
        else:
            place(accounts[account], instrument, side, lots, None, ioc)
        acknowledged += 1
    return time.perf_counter() - start, acknowledged


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize()


def measure_memory(count: int) -> tuple[int, int]:
    """Resident bytes added by `count` resting orders placed through the engine."""
    exchange = _exchange()
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    account = exchange.ledger.accounts[ACCOUNTS[0]]
    gc.collect()
    before = resident_bytes()
    rng = random.Random(3)
    for _ in range(count):
        exchange.place(account, instrument, BUY, rng.randint(10, 500), MID - rng.randint(1, 5000))
    gc.collect()
    after = resident_bytes()
    resting = exchange.books[instrument.index].resting_count()
    return after - before, resting


def run(quick: bool) -> Iterator[dict]:
    count = 100_000 if quick else 1_000_000
    ops = make_stream(count)
    mix = {k: sum(1 for op in ops if op[0] == k) / count for k in (ADD, CANCEL, CROSS, MARKET)}
    yield {"figure": "stream", "operations": count, "limit_adds": mix[ADD],
           "cancels": mix[CANCEL], "crossing": mix[CROSS] + mix[MARKET]}  # fmt: skip

    baseline = min(run_baseline(ops) for _ in range(3))
    yield {"figure": "baseline_dict_insert", "ops_per_second": round(count / baseline)}
    book = run_book(ops)
    yield {"figure": "book_matching", "ops_per_second": round(count / book),
           "ratio_vs_baseline": round(book / baseline, 2),
           "implementation": IMPLEMENTATION}  # fmt: skip
    engine_seconds, _ = run_engine(ops, _exchange())
    yield {"figure": "engine_matching", "ops_per_second": round(count / engine_seconds),
           "ratio_vs_baseline": round(engine_seconds / baseline, 2),
           "persistence": "off"}  # fmt: skip

    durable_count = 5_000 if quick else 50_000
    memory_seconds, memory_acks = run_engine(ops, _exchange(), durable_count)
    with tempfile.TemporaryDirectory() as tmp:
        exchange = _exchange(Path(tmp))
        durable_seconds, durable_acks = run_engine(ops, exchange, durable_count)
        exchange.close()
    durable_rate = durable_acks / durable_seconds
    yield {"figure": "durable_acknowledged_orders", "orders_per_second": round(durable_rate),
           "target": 5000, "ratio_vs_persistence_off": round(durable_seconds / memory_seconds, 2),
           "persistence_off_orders_per_second": round(memory_acks / memory_seconds)}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        exchange = _exchange(Path(tmp), checkpoint_seconds=CHECKPOINT_SECONDS)
        cpu_started = time.thread_time()
        served_seconds, served_acks = run_engine(ops, exchange, durable_count)
        served_cpu = time.thread_time() - cpu_started
        exchange.close()
    yield {"figure": "durable_acknowledged_orders_served", "orders_per_second":
           round(served_acks / served_seconds), "target": 5000,
           "cpu_seconds_per_order": round(served_cpu / served_acks, 7),
           "checkpoints": "background thread, as `vmx engine serve`"}  # fmt: skip

    resting_count = 100_000 if quick else 1_000_000
    added, resting = measure_memory(resting_count)
    yield {"figure": "memory_resting_orders", "resting_orders": resting,
           "resident_bytes": added, "bytes_per_resting_order": round(added / resting),
           "target_bytes_for_1M": 400 * 10**6}  # fmt: skip

    yield {
        "figure": "summary",
        "metric": "in-process matching time per operation, book vs bare dict insert",
        "implementation": IMPLEMENTATION,
        "value": round(count / book),
        "baseline": round(count / baseline),
        "ratio": round(book / baseline, 2),
        "target": 8,
        "engine_ratio": round(engine_seconds / baseline, 2),
        "durable_orders_per_second": round(durable_rate),
        "durable_orders_per_second_served": round(served_acks / served_seconds),
        "bytes_per_resting_order": round(added / resting),
        # --quick's 100,000-op dict fits in cache, so its baseline runs ~3x faster: the target
        # applies to the full 1,000,000-operation run.
        "operations": count,
        "quick": quick,
    }
