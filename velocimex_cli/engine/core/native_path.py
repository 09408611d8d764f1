"""The engine's commonest commands in C (native_path.c, which lists every hand-back).

`place`, `cancel` and `settle` are the C functions when the C core is active (orders.NATIVE),
else None. They follow the Python code step by step over the same state (matching.py,
settlement.py, commands.py are the reference) and run only where that code would do nothing
else: `place` takes no post-only nor a client_order_id that replays a live order, and both
`place` and `cancel` hand a command back to the Python path (None / False), before changing
anything, whenever a listener needs an event the command would build other than its public
trades and its own account's order and fill events (a book event, or an order or fill event
of another account whose maker the order would meet), the order is FOK, the venue keeps
session hours, a check would refuse the order, or a number does not fit 64 bits (a market
order with no opposite side is not refused: C rejects it with NO_LIQUIDITY as the Python
path does). The events
are built by `TradeEvent`, `_order_event` and `_fill_event`, as settlement.py and
commands.py build them, at the same points of the command. `settle` hands fills it cannot
compute in 64 bits to `Settlement._settle_fills`.
tests/engine/core/test_native_path.py runs seeded markets through both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from velocimex_cli.engine.core.events import FillEvent, OrderEvent, TradeEvent
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.instruments import VenueKind
from velocimex_cli.engine.core.ledger import FEE_ACCOUNT, AccountKind, Position
from velocimex_cli.engine.core.orders import (
    CANCELED,
    FILLED,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    NATIVE,
    PARTIALLY_FILLED,
    REJECTED,
    Reason,
)
from velocimex_cli.engine.core.views import fill_wire, order_wire
from velocimex_cli.wire.timefmt import to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.core.ledger import Account
    from velocimex_cli.engine.core.orders import Order, TimeInForce

Place = Callable[
    ["ExchangeState", "Account", "Instrument", int, int, "int | None", "TimeInForce", "str | None"],
    "Order | None",
]
Cancel = Callable[["ExchangeState", "Account", "Order"], bool]
Settle = Callable[["ExchangeState", "Account", "Order", "list[tuple[Order, int, int]]"], None]


def _order_event(order: Order, event: str) -> OrderEvent:
    return OrderEvent(order.account, event, order_wire(order))


def _fill_event(account: Account, record: FillRecord) -> FillEvent:
    return FillEvent(account.name, fill_wire(record))


place: Place | None = None
cancel: Cancel | None = None
settle: Settle | None = None

if NATIVE:
    from velocimex_cli.engine.core import _native

    _native._configure_engine(
        USER=AccountKind.USER,
        CRYPTO=VenueKind.CRYPTO,
        LIMIT=LIMIT,
        MARKET=MARKET,
        GTC=GTC,
        IOC=IOC,
        FILLED=FILLED,
        PARTIALLY_FILLED=PARTIALLY_FILLED,
        CANCELED=CANCELED,
        REJECTED=REJECTED,
        CANCELED_BY_USER=Reason.CANCELED_BY_USER,
        IOC_REMAINDER=Reason.IOC_REMAINDER,
        MARKET_PROTECTION=Reason.MARKET_PROTECTION,
        NO_LIQUIDITY=Reason.NO_LIQUIDITY,
        SELF_TRADE_PREVENTION=Reason.SELF_TRADE_PREVENTION,
        Position=Position,
        FillRecord=FillRecord,
        FEE_ACCOUNT=FEE_ACCOUNT,
        to_micros=to_micros,
        trade_event=TradeEvent,  # (instrument, trade_id, price, lots, side, now)
        order_event=_order_event,
        fill_event=_fill_event,
    )
    place, cancel, settle = _native.place, _native.cancel, _native.settle
