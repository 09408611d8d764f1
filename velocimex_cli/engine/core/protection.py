"""Market protection: a market order trades no further than a bound off the best price.

A market buy may pay at most best ask x (1 + bps/10000) (rounded up to the tick), a sell
receives at least best bid x (1 - bps/10000) (rounded down, never below one tick). The bound
is the order's price: it locks at it and the remainder past it is canceled with reason
`market_protection`. With no opposite side there is no bound: the order is rejected with
`no_liquidity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.orders import BUY

if TYPE_CHECKING:
    from velocimex_cli.engine.core.book import OrderBook


def market_bound(book: OrderBook, side: int, bps: int) -> int | None:
    """The worst price (ticks) a market order of `side` may trade at now; None: no liquidity."""
    if side == BUY:
        best = book.best_ask()
        return None if best is None else -(-best * (10_000 + bps) // 10_000)
    best = book.best_bid()
    return None if best is None else max(1, best * (10_000 - bps) // 10_000)
