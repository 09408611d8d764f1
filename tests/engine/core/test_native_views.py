"""views.c's order_wire against views.python_order_wire, its Python reference.

Every order event, every answer to a placement or a cancel and every in-process strategy's
OrderInfo is an order's wire dict. Hypothesis builds orders of every instrument, side, type,
time in force, status and reason, filled or not, with and without a client_order_id and an
update after their creation, and the C function must give the same dict: the same keys in the
same order, and each value of the same type and text (a Decimal's exponent is what the wire
prints). A PyOrder handed to the C function is the Python function's, and the C one keeps no
reference it should not.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocimex_cli.engine.core import views
from velocimex_cli.engine.core.instruments import default_instruments
from velocimex_cli.engine.core.orders import (
    NATIVE,
    Order,
    OrderType,
    PyOrder,
    Reason,
    Status,
    TimeInForce,
)

needs_native = pytest.mark.skipif(not NATIVE, reason="the C core is not active")
START = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds

orders = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=2**62),
        "account": st.sampled_from(["alice", "maker-sim"]),
        "instrument": st.sampled_from(default_instruments()),
        "side": st.sampled_from([0, 1]),
        "type": st.sampled_from(list(OrderType)),
        "tif": st.sampled_from(list(TimeInForce)),
        "post_only": st.booleans(),
        "price": st.integers(min_value=0, max_value=10**15),
        "quantity": st.integers(min_value=1, max_value=10**15),
        "client_id": st.none() | st.text("abc:-_.0123456789", min_size=1, max_size=64),
        "created": st.integers(min_value=0, max_value=4 * 10**15),
        "later": st.sampled_from([0, 0, 1, 999_999, 86_400_000_000]),
        "filled_share": st.sampled_from([0, 0, 1, 2, 3]),  # of 3: none, part, all
        "status": st.sampled_from(list(Status)),
        "reason": st.none() | st.sampled_from(list(Reason)),
    }
)


def _make(kind: type, fields: dict[str, Any]) -> Any:
    order = kind(
        fields["id"], fields["account"], fields["instrument"], fields["side"], fields["type"],
        fields["tif"], fields["post_only"], fields["price"], fields["quantity"],
        fields["client_id"], fields["created"],
    )  # fmt: skip
    filled = fields["quantity"] * fields["filled_share"] // 3
    order.filled = filled
    order.filled_notional = filled * max(fields["price"], 1) * fields["instrument"].notional_units
    order.status = fields["status"]
    order.reason = fields["reason"]
    order.updated = fields["created"] + fields["later"]
    return order


def _exactly(wire: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The dict as (key, type, text) in its order: equal values of another type or exponent
    differ here."""
    return [(key, type(value).__name__, str(value)) for key, value in wire.items()]


@needs_native
def test_the_engine_builds_its_orders_wire_dicts_in_c() -> None:
    from velocimex_cli.engine.core import _native

    assert views.order_wire is _native.order_wire
    assert views.python_order_wire is not views.order_wire


@needs_native
@settings(max_examples=400, deadline=None)
@given(fields=orders)
def test_the_c_order_wire_is_the_python_one_value_for_value(fields: dict[str, Any]) -> None:
    c_order = _make(Order, fields)
    expected = _exactly(views.python_order_wire(_make(PyOrder, fields)))
    assert _exactly(views.order_wire(c_order)) == expected
    # (The Python function reads a C Order the same way.)
    assert _exactly(views.python_order_wire(c_order)) == expected
    # A PyOrder is the Python function's.
    assert _exactly(views.order_wire(_make(PyOrder, fields))) == expected


@needs_native
def test_the_c_order_wire_leaves_no_reference_behind() -> None:
    instrument = default_instruments()[0]
    order = Order(7, "alice", instrument, 0, OrderType.LIMIT, TimeInForce.GTC, False, 6_000_000,
                  300, "c-1", START)  # fmt: skip
    order.filled, order.filled_notional = 100, 100 * 6_000_000 * instrument.notional_units
    order.status, order.updated = Status.PARTIALLY_FILLED, START + 5
    watched = (instrument, instrument.lot_size, instrument.tick_size, order, order.client_id)
    before = [sys.getrefcount(value) for value in watched]
    for _ in range(1000):
        views.order_wire(order)
    assert [sys.getrefcount(value) for value in watched] == before
