"""What an order locks, and what it releases as it fills or ends.

A buy locks quote: its remaining notional at its limit price plus the fee on it at the lock
rate (`fees.lock_rate` of the instrument's own rates, else of the exchange's: `lock_rate_of`).
A sell locks base: its remaining quantity. The lock of a live order is always exactly
`lock_for(order, remaining)`; a fill shrinks it to what the rest needs, and an order that ends
(filled, canceled, rejected after locking) releases what is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from velocimex_cli.engine.core.fees import RATE_SCALE
from velocimex_cli.engine.core.orders import BUY

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.orders import Order


def locked_asset(instrument: Instrument, side: int) -> str:
    """The asset an order of `side` locks: quote for a buy, base for a sell."""
    return instrument.quote if side == BUY else instrument.base


def lock_rate_of(instrument: Instrument, exchange_rate: int) -> int:
    """The fee rate a buy on `instrument` locks: its own (a mirrored venue's), else
    `exchange_rate`, the exchange-wide one."""
    rate = instrument.lock_rate
    return exchange_rate if rate is None else rate


def lock_for(order: Order, lots: int, lock_rate: int) -> int:
    """Ledger units `lots` of `order` lock (at its limit price, or a market order's bound), at
    `lock_rate` (fees.RATE_UNITs; `lock_rate_of` the order's instrument)."""
    if order.side == BUY:
        notional = order.price * lots * order.instrument.notional_units
        return notional + notional * lock_rate // RATE_SCALE
    return lots * order.instrument.lot_units


def buy_release_on_fill(order: Order, lots: int, unit: int, lock_rate: int) -> int:
    """Quote units a buy's lock shrinks by when `lots` of it fill (`order.filled` already
    counts them; `unit` is its limit price x the instrument's notional units): the lock of the
    remaining quantity before the fill minus the lock of what remains after it."""
    after = (order.quantity - order.filled) * unit
    before = after + lots * unit
    return before + before * lock_rate // RATE_SCALE - after - after * lock_rate // RATE_SCALE
