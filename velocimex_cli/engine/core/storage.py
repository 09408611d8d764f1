"""The storage port: what the core needs from whatever keeps its state.

The core owns this interface and imports no store; `engine/store.py` implements it with SQLite
(and an in-memory twin for backtests), and the engine node (`engine/node.py`) plugs one into an
Exchange. A store receives each command's (or each group commit's) `Changes` and writes them in
one transaction; it also keeps small named values (the simulator's state, the deployments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from velocimex_cli.engine.core.fills import FillRecord
    from velocimex_cli.engine.core.ledger import Account
    from velocimex_cli.engine.core.orders import Order


@dataclass(slots=True)
class Changes:
    """Everything one command (or one group commit) changed, for the store to write in one
    transaction."""

    accounts: list[Account] = field(default_factory=list)
    orders: dict[int, Order] = field(default_factory=dict)
    fills: list[FillRecord] = field(default_factory=list)
    balances: set[tuple[str, str]] = field(default_factory=set)
    positions: set[tuple[str, int]] = field(default_factory=set)
    funding: dict[str, int] = field(default_factory=dict)
    # (trade_id, instrument index, price, lots, timestamp) of every trade, for the 24-hour
    # volume after a restart; accounts whose limits or dead-man switch changed.
    trades: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    risk: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(
            self.accounts
            or self.orders
            or self.fills
            or self.balances
            or self.funding
            or self.trades
            or self.risk
        )


class Store(Protocol):  # pragma: no cover - structural type
    def commit(self, changes: Changes) -> None:
        """Write everything one batch changed in one transaction (raise: nothing written)."""
        ...

    def save_meta(self, key: str, value: str) -> None:
        """Keep a small named value with the engine's state."""
        ...

    def load_meta(self, key: str) -> str | None: ...

    def reload(self) -> None:
        """Put the stored state back into the exchange this store keeps
        (`Exchange.replace_state`) after a batch could not be written (raise: the store
        cannot be read either)."""
        ...

    def probe(self) -> bool:
        """Whether a write would work now (a small real write; never raises)."""
        ...

    def close(self) -> None: ...
