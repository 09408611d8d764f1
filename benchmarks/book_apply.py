"""The client's local book, `LocalBook.apply()`, against ccxt's `OrderBook` on the same updates.

A seeded generator makes a realistic L2 stream of one instrument: a deep book (1,000 levels a
side, prices 1-3 ticks of 0.01 apart around 60,000), then deltas of 1 to 40 level changes
(5 on average). 90% of the changes fall within a few levels of the touch (exponential, mean 5
levels), the rest anywhere in the book; about a fifth of them delete a level, as many add
one, 3% improve the touch; the rest change a level's quantity. The book stays about 1,000
levels deep and never crosses. Every delta carries the book's checksum, as the engine's do.

- `book_apply.local_book`: `LocalBook(verify="frame").apply(message)` on every delta, the
  messages as the stream client decodes them (dicts, Decimal prices and quantities); sequence
  checks and the crossed-book check on every delta, the checksum once at the end (a view
  verifies once per frame).
- `book_apply.ccxt`: the baseline, `OrderBook.bids.store(price, amount)`/`asks.store` of
  ccxt.pro's own order book (`ccxt.async_support.base.ws.order_book.OrderBook`) for every level
  change of the same deltas, with floats (what ccxt parses an exchange's numbers into), its
  side already looked up: the least a consumer of ccxt's book does. The same with the same
  Decimal objects is printed beside it (`book_apply.ccxt_decimal`).
- `book_apply.local_book_single`: the same changes sent one per delta (the per-message cost
  at its worst), beside ccxt on those changes.

Figures are level changes per second of this thread's CPU time (on a shared machine wall time
measures the neighbours), best of alternating rounds. After each round both books are
compared with the generator's: equal, level for level; the local book also verifies the last
checksum. Target: `LocalBook.apply()` >= ccxt's store (ratio >= 1). Without ccxt installed the
summary says so and has no baseline.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.streams import CHECKSUM_DEPTH, book_checksum_scaled

TARGET = 1.0
TICK_DIGITS = 2  # prices in cents
LOT_DIGITS = 5  # quantities in 0.00001
Change = tuple[bool, int, int]  # (is a bid, price in ticks, quantity in lots; 0 deletes)


class Stream:
    """A seeded L2 stream in integer ticks and lots, and the book it ends with."""

    def __init__(self, messages: int, *, levels: int = 1000, seed: int = 18) -> None:
        rng = random.Random(seed)
        self.levels = levels
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        price = 6_000_000 - 1
        while len(bids) < levels:
            bids[price] = rng.randint(1, 500_000)
            price -= rng.randint(1, 3)
        price = 6_000_000 + 1
        while len(asks) < levels:
            asks[price] = rng.randint(1, 500_000)
            price += rng.randint(1, 3)
        bid_keys, ask_keys = sorted(bids), sorted(asks)  # both ascending
        self.snapshot_bids = [(p, bids[p]) for p in reversed(bid_keys)]
        self.snapshot_asks = [(p, asks[p]) for p in ask_keys]
        self.deltas: list[list[Change]] = []
        self.checksums: list[int] = []

        def distance() -> int:
            if rng.random() < 0.9:
                return int(rng.expovariate(1 / 5))
            return rng.randrange(2 * levels)

        for _ in range(messages):
            changes: list[Change] = []
            for _ in range(min(int(rng.expovariate(1 / 4)) + 1, 40)):
                is_bid = rng.random() < 0.5
                book, keys = (bids, bid_keys) if is_bid else (asks, ask_keys)
                roll = rng.random()
                if roll < 0.15 * len(keys) / levels and len(keys) > 10:
                    rank = min(distance(), len(keys) - 1)
                    price = keys[-1 - rank] if is_bid else keys[rank]
                    del keys[bisect.bisect_left(keys, price)]
                    del book[price]
                    changes.append((is_bid, price, 0))
                    continue
                if roll > 0.97:  # a new best price inside the spread
                    if ask_keys[0] - bid_keys[-1] < 2:
                        continue
                    price = bid_keys[-1] + 1 if is_bid else ask_keys[0] - 1
                else:
                    price = bid_keys[-1] - distance() if is_bid else ask_keys[0] + distance()
                quantity = rng.randint(1, 500_000)
                if price not in book:
                    bisect.insort(keys, price)
                book[price] = quantity
                changes.append((is_bid, price, quantity))
            self.deltas.append(changes)
            top_bids = [(p, bids[p]) for p in bid_keys[: -CHECKSUM_DEPTH - 1 : -1]]
            top_asks = [(p, asks[p]) for p in ask_keys[:CHECKSUM_DEPTH]]
            self.checksums.append(book_checksum_scaled(top_bids, top_asks, 1, 1))
        self.final_bids = [(p, bids[p]) for p in reversed(bid_keys)]
        self.final_asks = [(p, asks[p]) for p in ask_keys]

    @property
    def changes(self) -> int:
        return sum(len(changes) for changes in self.deltas)

    def one_per_delta(self) -> Stream:
        """The same changes, one per delta (checksums after each change are not kept)."""
        single = object.__new__(Stream)
        single.__dict__.update(self.__dict__)
        single.deltas = [[change] for changes in self.deltas for change in changes]
        single.checksums = []
        return single


def _price(ticks: int) -> Decimal:
    return Decimal(ticks).scaleb(-TICK_DIGITS)


def _quantity(lots: int) -> Decimal:
    return Decimal(lots).scaleb(-LOT_DIGITS) if lots else Decimal(0)


def _levels(rows: list[tuple[int, int]]) -> list[tuple[Decimal, Decimal]]:
    return [(_price(p), _quantity(q)) for p, q in rows]


def wire_messages(stream: Stream) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The snapshot and the deltas as the stream client hands them to a LocalBook."""
    snapshot = {
        "type": "book_snapshot", "exchange": "BINANCE", "symbol": "BTC/USDT", "sequence": 1,
        "timestamp": "2026-12-06T15:00:00.000000Z",
        "bids": [{"price": p, "quantity": q} for p, q in _levels(stream.snapshot_bids)],
        "asks": [{"price": p, "quantity": q} for p, q in _levels(stream.snapshot_asks)],
        "received_at": 0,
    }  # fmt: skip
    deltas = []
    for i, changes in enumerate(stream.deltas):
        rows = [
            {"side": "bid" if is_bid else "ask", "price": _price(p), "quantity": _quantity(q)}
            for is_bid, p, q in changes
        ]
        delta = {"type": "book_delta", "exchange": "BINANCE", "symbol": "BTC/USDT"}
        delta |= {"sequence": i + 2, "timestamp": "2026-12-06T15:00:00.000000Z"}
        delta |= {"changes": rows, "received_at": i + 1}
        delta["checksum"] = stream.checksums[i] if stream.checksums else None
        deltas.append(delta)
    return snapshot, deltas


def _cpu_rate(changes: int, work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.thread_time()
    result = work()
    return changes / max(time.thread_time() - started, 1e-9), result


def local_book_rate(stream: Stream) -> float:
    from velocimex_cli.client.book import LocalBook

    snapshot, deltas = wire_messages(stream)
    book = LocalBook(verify="frame")
    if book.apply(snapshot) is not None:
        raise RuntimeError(f"the snapshot was refused: {book.reason}")

    def work() -> None:
        apply = book.apply
        for message in deltas:
            if apply(message) is not None:
                raise RuntimeError(f"resync while applying the stream: {book.reason}")

    rate, _ = _cpu_rate(stream.changes, work)
    if book.bids() != _levels(stream.final_bids) or book.asks() != _levels(stream.final_asks):
        raise RuntimeError("the local book differs from the stream's book")
    if stream.checksums and not book.verify():
        raise RuntimeError(f"the local book failed its checksum: {book.reason}")
    return rate


def ccxt_rate(stream: Stream, number: Callable[[Decimal], Any]) -> float:
    """ccxt's OrderBook storing every level change; `number`: float (ccxt's own) or Decimal."""
    import ccxt.pro  # noqa: F401  (loads ccxt's websocket modules in their order)
    from ccxt.async_support.base.ws.order_book import OrderBook

    def side(rows: list[tuple[int, int]]) -> list[list[Any]]:
        return [[number(p), number(q)] for p, q in _levels(rows)]

    book = OrderBook({"bids": side(stream.snapshot_bids), "asks": side(stream.snapshot_asks)})
    bids, asks = book["bids"], book["asks"]
    updates = [
        [(bids if is_bid else asks, number(_price(p)), number(_quantity(q))) for is_bid, p, q in c]
        for c in stream.deltas
    ]

    def work() -> None:
        for changes in updates:
            for book_side, price, amount in changes:
                book_side.store(price, amount)

    rate, _ = _cpu_rate(stream.changes, work)
    if [list(level) for level in book["bids"]] != side(stream.final_bids) or [
        list(level) for level in book["asks"]
    ] != side(stream.final_asks):
        raise RuntimeError("ccxt's book differs from the stream's book")
    return rate


def _ccxt_missing() -> str | None:
    try:
        import ccxt.pro  # noqa: F401
    except ImportError:
        return "ccxt is not installed (pip install 'velocimex-cli[live]'): no baseline measured"
    return None


def run(quick: bool) -> Iterator[dict[str, Any]]:
    messages = 3_000 if quick else 60_000
    rounds = 2 if quick else 7
    stream = Stream(messages)
    single = stream.one_per_delta()
    missing = _ccxt_missing()
    best: dict[str, float] = {}

    def measure(name: str, rate: Callable[[], float]) -> None:
        best[name] = max(best.get(name, 0.0), rate())

    for _ in range(rounds):  # alternating, so the neighbours' load falls on all alike
        measure("local", lambda: local_book_rate(stream))
        measure("local_single", lambda: local_book_rate(single))
        if missing is None:
            measure("ccxt", lambda: ccxt_rate(stream, float))
            measure("ccxt_decimal", lambda: ccxt_rate(stream, Decimal))
            measure("ccxt_single", lambda: ccxt_rate(single, float))
    unit = "level changes/s of CPU time (best of the rounds)"
    shape = {
        "levels": stream.levels,
        "deltas": len(stream.deltas),
        "changes": stream.changes,
        "rounds": rounds,
    }
    yield {
        "name": "book_apply.local_book_single",
        "value": round(best["local_single"]),
        "unit": unit,
        "deltas": len(single.deltas),
        "changes_per_delta": 1,
    }
    if missing is None:
        for name, value, ratio in (
            ("ccxt_single", best["ccxt_single"], best["local_single"] / best["ccxt_single"]),
            ("ccxt_decimal", best["ccxt_decimal"], best["local"] / best["ccxt_decimal"]),
        ):
            yield {"name": f"book_apply.{name}", "value": round(value), "unit": unit,
                   "local_book_ratio": round(ratio, 3)}  # fmt: skip
    summary: dict[str, Any] = {
        "name": "book_apply",
        "baseline_name": "ccxt OrderBook.bids/asks.store, floats, the same changes",
        "value": round(best["local"]),
        "baseline": None,
        "ratio": None,
        "target": TARGET,
        "unit": unit,
        **shape,
    }
    if missing is None:
        ratio = best["local"] / best["ccxt"]
        summary |= {
            "baseline": round(best["ccxt"]),
            "ratio": round(ratio, 3),
            "within_target": ratio >= TARGET,
        }
    else:
        summary["note"] = missing
    yield summary
