"""What the Exchange's mixins and helpers see of it: its state and the steps they call on
each other.

`Exchange` (exchange.py) is built from mixins over one state (commands.py, matching.py,
settlement.py, entry.py, risk_settings.py, persistence.py, queries.py): the engine's hottest
path, where a method found on a base class costs no more than one defined on the class itself.
Each mixin method is typed `self: ExchangeState`, and so are the functions handed the exchange
(dry_run.py, self_trade.py, the C engine path in native_path.py). They depend on this
description, not on exchange.py, which imports them: no module of the core imports exchange.py
back.

Every step below names the module that implements it; the type checker checks that `Exchange`
satisfies this protocol wherever it calls a mixin method on itself (and at the end of
exchange.py). Adding a state attribute or a step a mixin calls on another: declare it here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, Protocol

from velocimex_cli.engine.core.book import OrderBook
from velocimex_cli.engine.core.clocks import Clock, MicrosClock
from velocimex_cli.engine.core.engine_config import EngineConfig
from velocimex_cli.engine.core.events import Event
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.instruments import Catalogue, Instrument
from velocimex_cli.engine.core.ledger import Account, Ledger
from velocimex_cli.engine.core.market_stats import MarketStats
from velocimex_cli.engine.core.orders import CANCELED, Order, Reason, Status, TimeInForce
from velocimex_cli.engine.core.risk import AccountRisk
from velocimex_cli.engine.core.storage import Changes, Store
from velocimex_cli.wire.errors import StorageUnavailable

Listener = Callable[[Event], None]
Fill = tuple[Order, int, int]  # (maker, lots, price in ticks) of one match, from OrderBook.take


class ExchangeState(Protocol):
    """The Exchange as its mixins and helpers use it (see the module docstring)."""

    # ------------------------------------------------------------ state (Exchange.__init__)
    config: EngineConfig
    clock: Clock
    catalogue: Catalogue
    books: list[OrderBook]  # by instrument index
    stats: list[MarketStats]  # by instrument index
    ledger: Ledger
    next_order_id: int
    next_trade_id: int
    storage_refusal: str | None  # why state changes are refused (None: they run)
    gated: set[int]  # mirrored instruments: users' orders pass venue_gate.check
    halts: dict[int, str]  # mirrored instruments whose feed is down, and why
    # The exchange-wide fee rates in fees.RATE_UNITs, for instruments without their own.
    _maker_rate: int
    _taker_rate: int
    _lock_rate: int  # fees.lock_rate of the two
    _always_open: bool
    _listeners: list[Listener]
    _event_accounts: frozenset[str] | None  # accounts whose order/fill events are built
    _book_events: bool  # whether book and ticker events are built
    _trade_events: bool  # whether trade events are built
    _changes: Changes | None  # what the running command changed (None: no store)
    _command_books: dict[int, tuple[int | None, int | None] | None]
    _events: list[Event] | None  # the running command's events (None: nobody listens)
    _traded: set[int]  # instruments the running command traded
    _now: int  # the running command's time, UTC microseconds
    _moment: datetime | None
    _moment_micros: int
    _micros_clock: MicrosClock | None
    _schedule_flush: Callable[[], object] | None  # its result is not used
    _flush_pending: bool
    _pending_events: list[Event]
    _armed: dict[str, Account]  # accounts whose dead-man switch is armed
    _store: Store | None
    state_unstored: bool  # memory could not be put back to the stored state
    on_rollback: Callable[[], None] | None  # called once memory was rolled back

    # ------------------------------------------------------------ commands.py (Commands)
    def _micros(self) -> int:
        """`Commands._micros`: the injected clock's time in microseconds."""
        ...

    def _begin(self) -> int:
        """`Commands._begin`: start a command; its time."""
        ...

    def _touch_book(self, index: int, book: OrderBook) -> None:
        """`Commands._touch_book`: note a book the command changes."""
        ...

    def _emit_order(self, order: Order, event: str) -> None:
        """`Commands._emit_order`: an order event, if a listener wants it."""
        ...

    def _finish(self) -> None:
        """`Commands._finish`: end a command (sequences, events, commit)."""
        ...

    def _order_closed(self, account: Account, order: Order) -> None:
        """`Commands._order_closed`: a closed order leaves a simulated account."""
        ...

    def _commit(self) -> None:
        """`Commands._commit`: hand a finished command on (the C engine path calls it)."""
        ...

    # ------------------------------------------------------------ entry.py (OrderEntry)
    def _check(
        self,
        account: Account,
        instrument: Instrument,
        side: int,
        lots: int,
        price: int | None,
        tif: TimeInForce,
        post_only: bool,
        client_id: str | None,
    ) -> tuple[Order, str | None, int, Reason | None, int]:
        """`OrderEntry._check`: every pre-trade check, changing nothing."""
        ...

    # ------------------------------------------------------------ matching.py (Matching)
    def _release(
        self, account: Account, order: Order, reason: Reason, status: Status = CANCELED
    ) -> None:
        """`Matching._release`: end a live order, unlocking what it holds."""
        ...

    def _cancel(
        self, account: Account, order: Order, reason: Reason = Reason.CANCELED_BY_USER
    ) -> None:
        """`Matching._cancel`: cancel a live order within a command."""
        ...

    # ------------------------------------------------------------ settlement.py (Settlement)
    def _settle(self, taker_account: Account, taker: Order, fills: list[Fill]) -> None:
        """`Settlement._settle`: settle a match's fills (in C when it can)."""
        ...

    def _settle_fills(self, taker_account: Account, taker: Order, fills: list[Fill]) -> None:
        """`Settlement._settle_fills`: the Python settlement (the C path hands over to it)."""
        ...

    def _record_fill(self, account: Account, record: FillRecord) -> None:
        """`Settlement._record_fill`: keep a fill and announce it."""
        ...

    # ------------------------------------------------------------ risk_settings.py
    def _risk_of(self, account_name: str) -> tuple[Account, AccountRisk]:
        """`RiskSettings._risk_of`: a trading account and its risk state."""
        ...

    # ------------------------------------------------------------ persistence.py (Persistence)
    def flush(self) -> None:
        """`Persistence.flush`: commit the pending batch, then deliver its events."""
        ...

    def _roll_back(self, exc: Exception) -> NoReturn:
        """`Persistence._roll_back`: drop the batch the store could not write; raises."""
        ...

    def reload_stored(self) -> bool:
        """`Persistence.reload_stored`: put memory back to the stored state."""
        ...

    def unstored(self, not_done: str) -> StorageUnavailable:
        """`Persistence.unstored`: the error for a change the engine could not store."""
        ...

    # ------------------------------------------------------------ queries.py (Queries)
    def order_history(
        self,
        account_name: str,
        status: str = "open",
        exchange: str | None = None,
        symbol: str | None = None,
        limit: int = 100,
        since: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """`Queries.order_history`: a page of an account's orders."""
        ...

    def fill_history(
        self,
        account_name: str,
        exchange: str | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
        limit: int = 100,
        since: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """`Queries.fill_history`: a page of an account's fills."""
        ...

    def positions_report(self, account_name: str) -> dict[str, Any]:
        """`Queries.positions_report`: positions and PnL per quote asset."""
        ...

    # ------------------------------------------------------------ exchange.py (Exchange)

    def _account(self, name: str) -> Account:
        """`Exchange._account`: an account by name, or NotFound."""
        ...
