"""A fill as its account sees it: one side of a trade."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velocimex_cli.engine.core.orders import Order


class FillRecord:
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
