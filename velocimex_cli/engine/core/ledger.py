"""Accounts, balances and positions, in integer ledger units (10**-8 of an asset).

Every movement is a transfer between accounts, so the total of each asset over all accounts
(fee account and simulated participants included) changes only by explicit funding, which is
counted in `Ledger.funded`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from velocimex_cli.engine.core.instruments import LEDGER_DECIMALS, LEDGER_SCALE
from velocimex_cli.engine.core.orders import Order
from velocimex_cli.engine.core.risk import AccountRisk

if TYPE_CHECKING:
    from velocimex_cli.engine.core.fills import FillRecord


class AccountKind(StrEnum):
    USER = "user"
    SIMULATED = "simulated"
    FEES = "fees"


FEE_ACCOUNT = "fees"
# A balance is stored as a signed 64-bit integer of ledger units: about 92 billion of an asset.
MAX_UNITS = 2**63 - 1


class PlainDecimal(Decimal):
    """A Decimal that writes itself without an exponent: 0.00000001, not 1E-8 (JSON and tables)."""

    __slots__ = ()

    def __str__(self) -> str:
        return format(self, "f")


def units_to_decimal(units: int) -> Decimal:
    """Ledger units as an exact decimal with trailing zeros trimmed (never in exponent form).

    Built from digits, not arithmetic, so no decimal context can round it, however large.
    """
    whole, fraction = divmod(abs(units), LEDGER_SCALE)
    sign = "-" if units < 0 else ""
    if not fraction:
        return PlainDecimal(f"{sign}{whole}")
    return PlainDecimal(f"{sign}{whole}.{fraction:0{LEDGER_DECIMALS}d}".rstrip("0"))


class Position:
    """Net traded quantity of an instrument with its cost basis and realized PnL (units).

    `cost` is the signed cost of the open quantity in quote ledger units (positive long).
    Realized PnL includes fees: every fee paid on the instrument is subtracted from it when the
    fill happens (in settlement.py); the cost basis and the unrealized PnL exclude them.
    """

    __slots__ = ("cost", "quantity", "realized")

    def __init__(self, quantity: int = 0, cost: int = 0, realized: int = 0) -> None:
        self.quantity = quantity
        self.cost = cost
        self.realized = realized

    def apply(self, lots: int, notional: int) -> None:
        """A fill of `lots` (positive buy, negative sell) for `notional` units of quote."""
        qty = self.quantity
        signed = notional if lots > 0 else -notional
        if qty == 0 or (qty > 0) == (lots > 0):
            self.quantity = qty + lots
            self.cost += signed
            return
        closing = min(abs(lots), abs(qty))
        closed_cost = _pro_rata(self.cost, closing, abs(qty))
        closed_flow = _pro_rata(signed, closing, abs(lots))
        self.realized -= closed_flow + closed_cost
        self.quantity = qty + lots
        if self.quantity == 0:
            self.cost = 0
        elif (self.quantity > 0) == (qty > 0):
            self.cost -= closed_cost
        else:
            # Flipped through zero: the rest opens a new position at this fill's price.
            self.cost = signed - closed_flow

    def unrealized(self, mid_value_per_lot_x2: int) -> int:
        """Unrealized PnL in units, given twice the mid's value of one lot (keeps it integral)."""
        return (mid_value_per_lot_x2 * self.quantity) // 2 - self.cost


def _pro_rata(amount: int, part: int, whole: int) -> int:
    """amount * part / whole, truncated towards zero."""
    value = abs(amount) * part // whole
    return value if amount >= 0 else -value


class Account:
    __slots__ = (
        "balances",
        "client_ids",
        "fills",
        "kind",
        "name",
        "open_orders",
        "orders",
        "positions",
        "risk",
    )

    def __init__(self, name: str, kind: AccountKind) -> None:
        self.name = name
        self.kind = kind
        # asset -> [total, locked]
        self.balances: dict[str, list[int]] = {}
        # Every order of a user account (history, insertion = id order); for simulated
        # participants only their live orders.
        self.orders: dict[int, Order] = {}
        self.client_ids: dict[str, int] = {}
        self.fills: list[FillRecord] = []
        self.positions: dict[int, Position] = {}
        # How many of its orders are live (rest in a book), kept by the engine as orders open
        # and close, for the max_open_orders limit without a scan of the history.
        self.open_orders = 0
        # Pre-trade limits and the dead-man switch (risk.AccountRisk); None: no limits
        # (simulated participants and the fee account).
        self.risk: AccountRisk | None = None

    @property
    def keeps_history(self) -> bool:
        return self.kind is AccountKind.USER

    def balance(self, asset: str) -> list[int]:
        entry = self.balances.get(asset)
        if entry is None:
            entry = self.balances[asset] = [0, 0]
        return entry

    def available(self, asset: str) -> int:
        entry = self.balances.get(asset)
        return entry[0] - entry[1] if entry is not None else 0

    def live_orders(self) -> Iterator[Order]:
        return (o for o in self.orders.values() if o.is_live)


class Ledger:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.funded: dict[str, int] = {}
        self.fees = self.open(FEE_ACCOUNT, AccountKind.FEES)

    def open(self, name: str, kind: AccountKind) -> Account:
        account = Account(name, kind)
        self.accounts[name] = account
        return account

    def fund(self, account: Account, asset: str, units: int) -> None:
        """Explicit funding: the only way the total of an asset changes."""
        account.balance(asset)[0] += units
        self.funded[asset] = self.funded.get(asset, 0) + units

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for account in self.accounts.values():
            for asset, (total, _locked) in account.balances.items():
                totals[asset] = totals.get(asset, 0) + total
        return totals
