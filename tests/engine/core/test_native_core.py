"""The C Order and OrderBook (engine/core/orders.c, book.c) against the pure-Python ones.

The Python classes in orders.py and book.py are the reference: a Hypothesis test sends the same
random rests, cancels and takes to a `PyOrderBook` of `PyOrder`s and to the C book of C orders
and compares every answer, every order's `filled`/`resting`, and the `changed`/`touched`
bookkeeping after each step. Further tests pin the Order's attributes and repr, the errors of
misuse, and reference counting: a place/cancel/fill loop leaves the refcounts of the shared
account string and instrument where they started, and a book dropped with orders in it
releases them.
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocimex_cli.engine.core import book as book_module
from velocimex_cli.engine.core import orders as orders_module
from velocimex_cli.engine.core.book import PyOrderBook
from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.orders import (
    BUY,
    GTC,
    LIMIT,
    SELL,
    PyOrder,
    Reason,
    Status,
    TimeInForce,
)

try:
    from velocimex_cli.engine.core import _native
except ImportError:  # reported by test_the_native_core_is_built_and_selected
    _native = None  # type: ignore[assignment]

needs_native = pytest.mark.skipif(_native is None, reason="the C core is not built")
BTC_USDT = Catalogue().find("BINANCE", "BTC/USDT")


@pytest.mark.skipif(
    bool(os.environ.get("VMX_PURE_PYTHON")), reason="VMX_PURE_PYTHON selects the fallback"
)
def test_the_native_core_is_built_and_selected() -> None:
    """The test environment has a compiler: a silent fallback to pure Python is a failure."""
    assert _native is not None, "velocimex_cli.engine.core._native did not build or import"
    assert orders_module.NATIVE and book_module.NATIVE
    assert orders_module.Order is _native.Order
    assert book_module.OrderBook is _native.OrderBook
    assert not gc.is_tracked(
        orders_module.Order(1, "a", None, BUY, LIMIT, GTC, False, 1, 1, None, 0)
    )


# ---------------------------------------------------------------------- differential model
@dataclass
class Pair:
    py: Any
    c: Any


ACCOUNTS = ("alice", "bob", "carol")
PRICES = st.integers(min_value=1, max_value=9)
LOTS = st.integers(min_value=1, max_value=6)

rest_op = st.tuples(
    st.just("rest"), st.sampled_from((BUY, SELL)), PRICES, LOTS,
    st.integers(min_value=0, max_value=3), st.sampled_from(ACCOUNTS),
)  # fmt: skip
cancel_op = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=10**6))
take_op = st.tuples(
    st.just("take"), st.sampled_from((BUY, SELL)), st.sampled_from(ACCOUNTS),
    st.integers(min_value=-1, max_value=11), st.integers(min_value=0, max_value=25),
)  # fmt: skip
watch_op = st.tuples(st.just("watch"), st.booleans())
OPS = st.lists(st.one_of(rest_op, rest_op, cancel_op, take_op, watch_op), max_size=60)


def _state(book: Any) -> tuple:
    return (
        book.best_bid(),
        book.best_ask(),
        [book.depth(side, n) for side in (BUY, SELL) for n in (-2, 0, 1, 3, 100)],
        [book.level_quantity(side, p) for side in (BUY, SELL) for p in range(0, 11)],
        [[o.id for o in book.level_orders(side, p)] for side in (BUY, SELL) for p in range(0, 11)],
        [[o.id for o in book.resting_orders(side)] for side in (BUY, SELL)],
        book.resting_count(),
        [book.crosses(side, p) for side in (BUY, SELL) for p in range(0, 11)],
        [
            book.fillable(side, limit, lots, account)
            for side in (BUY, SELL)
            for limit in (0, 3, 5, 10)
            for lots in (1, 4, 12)
            for account in ACCOUNTS
        ],
        book.changed,
        None if book.touched is None else sorted(book.touched),
        book.sequence,
    )


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_native_book_answers_exactly_as_the_python_book(ops: list[tuple]) -> None:
    instrument = BTC_USDT
    books = Pair(PyOrderBook(), _native.OrderBook())
    every: list[Pair] = []
    resting: list[Pair] = []
    for step, op in enumerate(ops):
        kind = op[0]
        if kind == "rest":
            _, side, price, lots, filled, account = op
            made = []
            for cls in (PyOrder, _native.Order):
                order = cls(step, account, instrument, side, LIMIT, GTC, False, price,
                            lots + filled, None, step)  # fmt: skip
                order.filled = filled
                made.append(order)
            pair = Pair(*made)
            every.append(pair)
            books.py.rest(pair.py)
            books.c.rest(pair.c)
            resting.append(pair)
        elif kind == "cancel":
            live = [p for p in resting if p.py.resting]
            if live:
                pair = live[op[1] % len(live)]
                books.py.remove(pair.py)
                books.c.remove(pair.c)
        elif kind == "take":
            _, side, account, limit, lots = op
            trades_py: list[Any] = []
            trades_c: list[Any] = []
            fills_py = books.py.take(side, account, limit, lots, trades_py)
            fills_c = books.c.take(side, account, limit, lots, trades_c)
            assert [(m.id, q, p) for m, q, p in fills_c] == [(m.id, q, p) for m, q, p in fills_py]
            assert [o.id for o in trades_c] == [o.id for o in trades_py]
            assert all(type(m) is _native.Order for m, _, _ in fills_c)
        else:
            for book in (books.py, books.c):
                book.touched = set() if op[1] else None
                book.changed = False
                book.sequence += 1
        assert _state(books.c) == _state(books.py), op
        for pair in every:
            assert (pair.c.filled, pair.c.resting) == (pair.py.filled, pair.py.resting), pair.py


# ---------------------------------------------------------------------- the Order type
@needs_native
def test_native_order_has_the_python_orders_attributes_and_repr() -> None:
    instrument = BTC_USDT
    args = (7, "alice", instrument, SELL, LIMIT, TimeInForce.IOC, True, 1234, 10, "cid", 99)
    py, c = PyOrder(*args), _native.Order(*args)
    c_by_name = _native.Order(
        id=7, account="alice", instrument=instrument, side=SELL, type=LIMIT,
        tif=TimeInForce.IOC, post_only=True, price=1234, quantity=10, client_id="cid", created=99,
    )  # fmt: skip
    fields = ("id", "account", "instrument", "side", "type", "tif", "post_only", "price",
              "quantity", "client_id", "created", "updated", "filled", "filled_notional",
              "status", "reason", "resting", "remaining", "is_live")  # fmt: skip
    for order in (c, c_by_name):
        assert {f: getattr(order, f) for f in fields} == {f: getattr(py, f) for f in fields}
        assert (
            repr(order) == repr(py) == "Order(7 alice sell BINANCE:BTC/USDT 10@1234 filled=0 open)"
        )
    # Every field the engine and the store assign.
    for order in (py, c):
        order.created = order.updated = 5
        order.filled = 4
        order.filled_notional = 2**80  # beyond int64: stays a Python int
        order.status = Status.PARTIALLY_FILLED
        order.reason = Reason.SELF_TRADE_PREVENTION
    assert {f: getattr(c, f) for f in fields} == {f: getattr(py, f) for f in fields}
    assert repr(c) == repr(py)
    assert c.remaining == 6 and c.is_live
    c.status = Status.FILLED
    assert not c.is_live
    c.status = Status.OPEN
    assert c.is_live


@needs_native
def test_native_order_refuses_what_would_break_the_book() -> None:
    instrument = BTC_USDT
    order = _native.Order(1, "alice", instrument, BUY, LIMIT, GTC, False, 10, 5, None, 0)
    with pytest.raises(AttributeError):
        order.resting = True  # only a book sets it
    with pytest.raises((AttributeError, TypeError)):
        del order.account
    with pytest.raises(TypeError):
        order.price = 10.5  # type: ignore[assignment]
    with pytest.raises(TypeError):
        _native.Order(1, "alice", instrument, BUY, LIMIT, GTC, False, "10", 5, None, 0)
    with pytest.raises(TypeError):
        _native.Order(1, "alice")  # type: ignore[call-arg]
    book = _native.OrderBook()
    with pytest.raises(ValueError, match="not resting"):
        book.remove(order)
    book.rest(order)
    with pytest.raises(ValueError, match="already resting"):
        book.rest(order)
    with pytest.raises(ValueError, match="not resting in this book"):
        _native.OrderBook().remove(order)
    with pytest.raises(TypeError):
        book.rest(PyOrder(2, "alice", instrument, BUY, LIMIT, GTC, False, 10, 5, None, 0))
    assert book.resting_count() == 1 and order.resting


# ---------------------------------------------------------------------- reference counting
def _fresh(text: str) -> str:
    """A str object nobody else holds (not interned), so its refcount is ours to watch."""
    return "".join([text, "-", str(id(object()))])


@needs_native
def test_place_cancel_fill_loop_leaks_no_references_or_memory() -> None:
    instrument = BTC_USDT
    maker, taker = _fresh("maker"), _fresh("taker")
    book = _native.OrderBook()
    book.touched = set()
    counts = (sys.getrefcount(maker), sys.getrefcount(taker), sys.getrefcount(instrument))

    def churn(rounds: int) -> None:
        next_id = 0
        for _ in range(rounds):
            kept = []
            for i in range(60):
                next_id += 1
                side = BUY if i % 2 else SELL
                price = 100 - i % 5 if side == BUY else 101 + i % 5
                order = _native.Order(next_id, maker, instrument, side, LIMIT, GTC, False, price,
                                      3, None, 0)  # fmt: skip
                book.rest(order)
                kept.append(order)
            for order in kept[::3]:
                book.remove(order)
            # Self-trades take some makers out, the other account fills the rest.
            book.take(BUY, maker, 101, 7, [])
            book.take(SELL, maker, 100, 7, [])
            for side, limit in ((BUY, 10**6), (SELL, 0)):
                fills = book.take(side, taker, limit, 10**6, [])
                assert all(m.filled == m.quantity and not m.resting for m, _, _ in fills)
            assert book.resting_count() == 0 and book.best_bid() is None is book.best_ask()
            book.touched.clear()

    churn(5)
    assert (sys.getrefcount(maker), sys.getrefcount(taker), sys.getrefcount(instrument)) == counts
    gc.collect()
    tracemalloc.start()
    try:
        churn(50)
        gc.collect()
        first = tracemalloc.get_traced_memory()[0]
        churn(200)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - first
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes more after 200 more rounds"
    assert (sys.getrefcount(maker), sys.getrefcount(taker), sys.getrefcount(instrument)) == counts


@needs_native
def test_book_owns_its_resting_orders_and_releases_them_when_dropped() -> None:
    instrument = BTC_USDT
    account = _fresh("owner")
    before = sys.getrefcount(account)
    book = _native.OrderBook()
    for i in range(1000):
        # The caller drops each order at once: the book keeps it alive.
        book.rest(_native.Order(i, account, instrument, i % 2, LIMIT, GTC, False, 50 + i % 2 * 10
                                - i % 7, 1 + i % 3, None, 0))  # fmt: skip
    kept = book.resting_orders(SELL)[0]
    assert sys.getrefcount(account) == before + 1000
    assert [o.id for o in book.resting_orders(BUY)][:3] == [0, 14, 28]
    assert kept.resting and repr(kept).startswith("Order(")
    del book
    assert not kept.resting  # the dropped book let go of it
    assert sys.getrefcount(account) == before + 1
    del kept
    assert sys.getrefcount(account) == before
