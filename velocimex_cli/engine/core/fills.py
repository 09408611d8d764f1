"""A fill as its account sees it: one side of a trade.

`FillRecord` is the C type from `fills.c` when the C core is active (orders.NATIVE), else
`PyFillRecord` below, its reference: same constructor and attributes; the C one is read-only,
its integer fields fit 64 bits, and it is not tracked by the cyclic GC (an account keeps every
fill it ever had).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.orders import NATIVE

if TYPE_CHECKING:
    from velocimex_cli.engine.core.orders import Order


class PyFillRecord:
    """One side of a trade, as its account sees it (price in ticks, fee in ledger units)."""

    __slots__ = ("fee", "liquidity", "lots", "order", "price", "timestamp", "trade_id")

    def __init__(
        self,
        trade_id: int,
        order: Order,
        price: int,
        lots: int,
        fee: int,
        liquidity: str,
        timestamp: int,
    ) -> None:
        self.trade_id = trade_id
        self.order = order
        self.price = price
        self.lots = lots
        self.fee = fee
        self.liquidity = liquidity
        self.timestamp = timestamp


if TYPE_CHECKING:  # the C type follows the Python one field for field: check against that
    FillRecord = PyFillRecord
elif NATIVE:
    from velocimex_cli.engine.core._native import FillRecord
else:
    FillRecord = PyFillRecord
