"""The rules a mirrored venue adds to a user's order, before any other check.

A mirrored instrument's book is a copy of a real venue's (engine/drivers/venues/mirror.py).
While its feed is down or resyncing the copy cannot be trusted, so an order that would trade
against it now (a market order, a limit at or through the opposite best price) is refused with
MARKET_CLOSED and the feed's reason; an order that only rests is accepted and cancels work.
The venue's minimum notional (price x quantity, in the quote asset) is checked as the venue
checks it. Simulated accounts (the mirror's own liquidity, its tape) are not users: they pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.orders import BUY
from velocimex_cli.wire.errors import InvalidParameter, MarketClosed

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.ledger import Account


def check_halt(
    exchange: ExchangeState, instrument: Instrument, side: int, price: int | None
) -> int | None:
    """Raise MarketClosed for an order that would trade now on a halted instrument (its feed
    down: `exchange.halts`); else return the opposite best price. A backtest of a recorded
    feed that was down checks its strategy's orders here too (engine/backtest/host.py)."""
    book = exchange.books[instrument.index]
    opposite = book.best_ask() if side == BUY else book.best_bid()
    reason = exchange.halts.get(instrument.index)
    if reason is not None:
        marketable = price is None or (
            opposite is not None and (price >= opposite if side == BUY else price <= opposite)
        )
        if marketable:
            kind = "a market order" if price is None else "a limit order that would trade now"
            raise MarketClosed(
                f"{instrument.key} is halted ({reason}): {kind} needs the venue's book; "
                "orders that only rest are accepted, cancels work, and trading resumes once "
                "the feed is whole again",
                {"exchange": instrument.exchange, "symbol": instrument.symbol, "reason": reason},
            )
    return opposite


def check(
    exchange: ExchangeState,
    account: Account,
    instrument: Instrument,
    side: int,
    lots: int,
    price: int | None,
) -> None:
    """Raise MarketClosed or InvalidParameter for an order the venue's state refuses."""
    if account.kind is not AccountKind.USER:
        return
    opposite = check_halt(exchange, instrument, side, price)
    minimum = instrument.min_notional
    if minimum is None:
        return
    at = price if price is not None else opposite
    if at is None:
        return
    notional = instrument.price_of(at) * instrument.quantity_of(lots)
    if notional < minimum:
        raise InvalidParameter(
            "quantity",
            instrument.quantity_of(lots),
            f"{instrument.key}: price x quantity is {notional} {instrument.quote}, below the "
            f"venue's minimum notional of {minimum} {instrument.quote}; order more",
        )
