"""The order as the engine holds it: integer ticks and lots, plain slots for speed and memory.

`Order` is the C type from `orders.c` when that extension is built and the environment
variable VMX_PURE_PYTHON is empty or unset; otherwise it is `PyOrder` below, which is also the
reference the C type follows. `NATIVE` says which one is active. The C `Order` has the same
constructor, attributes and repr, and in addition: `resting` is read-only (only a book sets
it), the integer fields (id, side, price, quantity, filled, created, updated) must be ints that
fit in 64 bits, and no attribute can be deleted. It is not tracked by the cyclic GC.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument

BUY = 0
SELL = 1
SIDE_NAMES = ("buy", "sell")


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class Status(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


LIVE_STATUSES = frozenset({Status.OPEN, Status.PARTIALLY_FILLED})

# Module-level aliases: on CPython 3.11 reading `Status.OPEN` costs a class-attribute lookup
# through the enum machinery (~120 ns); a global is ~20 ns. The matching path uses these.
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
OPEN, PARTIALLY_FILLED, FILLED = Status.OPEN, Status.PARTIALLY_FILLED, Status.FILLED
CANCELED, REJECTED = Status.CANCELED, Status.REJECTED


class Reason(StrEnum):
    CANCELED_BY_USER = "canceled_by_user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    SELF_TRADE_PREVENTION = "self_trade_prevention"
    MARKET_PROTECTION = "market_protection"
    NO_LIQUIDITY = "no_liquidity"
    CANCEL_AFTER = "cancel_after"  # the account's dead-man switch fired


# Each member's plain string, and None for None: a dict lookup, where `member.value` costs
# ~0.8 us on CPython 3.11. For the wire and the store.
WIRE_NAME: dict[object, str | None] = {
    member: member.value for enum in (OrderType, TimeInForce, Status, Reason) for member in enum
}
WIRE_NAME[None] = None


class PyOrder:
    """One order: `price` in ticks (a market order's is its protection bound), sizes in lots.

    What a live order holds in the ledger is not stored: it is always the lock for its remaining
    quantity (see `locks.lock_for`). `resting` is true while it sits in a book.
    """

    __slots__ = (
        "account",
        "client_id",
        "created",
        "filled",
        "filled_notional",
        "id",
        "instrument",
        "post_only",
        "price",
        "quantity",
        "reason",
        "resting",
        "side",
        "status",
        "tif",
        "type",
        "updated",
    )

    def __init__(
        self,
        id: int,
        account: str,
        instrument: Instrument,
        side: int,
        type: OrderType,
        tif: TimeInForce,
        post_only: bool,
        price: int,
        quantity: int,
        client_id: str | None,
        created: int,
    ) -> None:
        self.id = id
        self.account = account
        self.instrument = instrument
        self.side = side
        self.type = type
        self.tif = tif
        self.post_only = post_only
        self.price = price
        self.quantity = quantity
        self.client_id = client_id
        self.created = created
        self.updated = created
        self.filled = 0
        self.filled_notional = 0
        self.status = OPEN
        self.reason: Reason | None = None
        self.resting = False

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_live(self) -> bool:
        status = self.status
        return status is OPEN or status is PARTIALLY_FILLED

    def __repr__(self) -> str:
        return (
            f"Order({self.id} {self.account} {SIDE_NAMES[self.side]} {self.instrument.key} "
            f"{self.quantity}@{self.price} filled={self.filled} {self.status})"
        )


def _load_native() -> bool:
    """Is the C core built and wanted? (VMX_PURE_PYTHON=1 selects the pure-Python classes.)

    A built core is configured either way, so it stays usable (and testable) beside them.
    """
    try:
        from velocimex_cli.engine.core import _native
    except ImportError:
        return False
    _native._configure(OPEN, PARTIALLY_FILLED, SIDE_NAMES)
    return not os.environ.get("VMX_PURE_PYTHON")


NATIVE = _load_native()
if TYPE_CHECKING:  # the C type follows the Python one field for field: check against that
    Order = PyOrder
elif NATIVE:
    from velocimex_cli.engine.core._native import Order
else:
    Order = PyOrder
