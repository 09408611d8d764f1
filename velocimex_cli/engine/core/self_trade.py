"""Self-trade prevention: an order never trades with a resting order of its own account.

The book skips such makers as it matches (`OrderBook.take` collects them) and the engine
cancels each of them (cancel-resting, reason `self_trade_prevention`), releasing its lock; the
incoming order goes on matching against other accounts' orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from velocimex_cli.engine.core.orders import Order, Reason

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState


def trades_with_self(maker: Order, account_name: str) -> bool:
    """Would `account_name`'s order meet its own resting `maker`? (Then the maker is canceled,
    not traded.)"""
    return maker.account == account_name


def cancel_makers(
    exchange: ExchangeState, makers: list[Order], emit: Callable[[Order, str], None] | None
) -> None:
    """Cancel the resting orders a match skipped as self-trades (the book already took them
    off): release their locks, record why, and announce each as canceled."""
    accounts = exchange.ledger.accounts
    for maker in makers:
        owner = accounts[maker.account]
        owner.open_orders -= 1
        exchange._release(owner, maker, Reason.SELF_TRADE_PREVENTION)
        if emit:
            emit(maker, "canceled")
