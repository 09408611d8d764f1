"""The engine's public entry points: one facade over catalogue, books, ledger and events.

Every command (place, cancel, cancel-all, funding) runs to completion in memory, then its
effects are handed to the store in one transaction (when there is one), and only then are its
events delivered and its result returned: an acknowledged order is a durable order.

The core reads no clock and no randomness of its own: `clock` is injected.

Each rule lives in a module named for it, and `Exchange` holds the state and the entry points
that change it (accounts, funding, instruments, orders):

- entry.py: parsing an order request, the pre-trade checks (with entry_rules.py for
  client_order_id replays, risk.py for limits, protection.py for the market bound,
  locks.py for what an order locks); dry_run.py: the same checks, changing nothing;
- matching.py: executing an order against the book (book.py / the C core), canceling;
  self_trade.py: self-trade prevention;
- settlement.py: moving balances, positions and fees (fees.py) on each fill;
- risk_settings.py: risk limits and the dead-man switch as commands;
- commands.py: a command's begin/finish, its events, its commit (the port: storage.py);
- persistence.py: the store attached, group commit, and a batch the store could not write
  rolled back: memory is put back to what the store holds, its events are dropped
  undelivered, and every state change is refused (STORAGE_UNAVAILABLE, nothing executed)
  until the node sees the store work again (`resume_storing`);
- queries.py: the read-only entry points; views.py: the shapes they answer in (and the
  order/fill wire shapes).

The internals are mixins over one state, not objects calling objects: this is the engine's
hottest path, and a method found on a base class costs no more than one defined here. The
mixins see the exchange through `exchange_state.ExchangeState` (its state and the steps they
call on each other, each naming its module), not through this module: none imports it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core import risk, venue_gate, views
from velocimex_cli.engine.core.book import OrderBook
from velocimex_cli.engine.core.clocks import Clock, MicrosClock
from velocimex_cli.engine.core.commands import Commands
from velocimex_cli.engine.core.dry_run import dry_run
from velocimex_cli.engine.core.engine_config import DEFAULT_SANDBOX_FUNDS, EngineConfig
from velocimex_cli.engine.core.entry import OrderEntry, parse_order
from velocimex_cli.engine.core.events import Event
from velocimex_cli.engine.core.fees import lock_rate, rate_of_bps
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Catalogue, Instrument
from velocimex_cli.engine.core.ledger import (
    FEE_ACCOUNT,
    MAX_UNITS,
    Account,
    AccountKind,
    Ledger,
    units_to_decimal,
)
from velocimex_cli.engine.core.market_stats import MarketStats
from velocimex_cli.engine.core.matching import Matching
from velocimex_cli.engine.core.native_path import cancel as native_cancel
from velocimex_cli.engine.core.native_path import place as native_place
from velocimex_cli.engine.core.orders import GTC, Order, TimeInForce
from velocimex_cli.engine.core.persistence import Persistence
from velocimex_cli.engine.core.queries import Queries
from velocimex_cli.engine.core.risk import AccountRisk
from velocimex_cli.engine.core.risk_settings import RiskSettings
from velocimex_cli.engine.core.settlement import Settlement
from velocimex_cli.engine.core.storage import Changes, Store
from velocimex_cli.engine.core.views import fill_wire, order_wire
from velocimex_cli.wire.errors import (
    InvalidParameter,
    NotFound,
    OrderNotOpen,
)

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState


@dataclass(frozen=True, slots=True)
class Interest:
    """What a listener needs built. Events no listener needs are never built: a backtest's
    strategy host wants its own account's orders and fills, not a dict for every order of the
    replayed market."""

    accounts: frozenset[str] | None = None  # order and fill events of these accounts (None: all)
    books: bool = True  # a BookEvent and a TickerEvent for each book a command changed
    trades: bool = True  # a TradeEvent for each public trade


EVERYTHING = Interest()


class Exchange(OrderEntry, Matching, Settlement, RiskSettings, Commands, Persistence, Queries):
    def __init__(self, config: EngineConfig, clock: Clock, store: Store | None = None) -> None:
        self.config = config
        self.clock = clock
        self.catalogue = config.catalogue if config.catalogue is not None else Catalogue()
        self.books: list[OrderBook] = [OrderBook() for _ in self.catalogue.instruments]
        self.stats: list[MarketStats] = [MarketStats() for _ in self.catalogue.instruments]
        self.ledger = Ledger()
        self.next_order_id = 1
        self.next_trade_id = 1
        # The exchange-wide fee rates (fees.py), for the instruments without their own.
        self._maker_rate = rate_of_bps(config.maker_fee_bps)
        self._taker_rate = rate_of_bps(config.taker_fee_bps)
        self._lock_rate = lock_rate(self._maker_rate, self._taker_rate)
        self._always_open = config.always_open
        self._listeners: list[Callable[[Event], None]] = []
        self._interests: dict[Callable[[Event], None], Interest] = {}
        self._event_accounts: frozenset[str] | None = None  # union of the listeners' interests
        self._book_events = True
        self._trade_events = True
        self._store = store
        self._changes: Changes | None = Changes() if store is not None else None
        # Per command: the books it touched with their best prices before it.
        self._command_books: dict[int, tuple[int | None, int | None] | None] = {}
        self._events: list[Event] | None = None
        self._traded: set[int] = set()
        self._now = 0
        # The last datetime the clock returned and its microseconds (see `_micros`).
        self._moment: datetime | None = None
        self._moment_micros = 0
        self._micros_clock = clock if isinstance(clock, MicrosClock) else None
        self.db_path: Path | None = None
        # Group commit (see `defer_commits`): None commits each command at once.
        self._schedule_flush: Callable[[], object] | None = None
        self._flush_pending = False
        self._pending_events: list[Event] = []
        # Accounts whose dead-man switch is armed (see `cancel_after`, `run_timers`).
        self._armed: dict[str, Account] = {}
        # Why the store last failed, while state changes are refused (None: they run).
        self.storage_refusal: str | None = None
        # Memory could not be put back to the stored state (the store could not be read
        # either): nothing of it may be shown until `reload_stored` succeeds.
        self.state_unstored = False
        # Called once memory was rolled back (the node stops what ran on the lost batch).
        self.on_rollback: Callable[[], None] | None = None
        # Mirrored instruments (by index) whose users' orders pass `venue_gate.check`, and
        # why those whose feed is down are halted (see drivers/venues/mirror.py).
        self.gated: set[int] = set()
        self.halts: dict[int, str] = {}

    # ------------------------------------------------------------------ listeners
    def add_listener(
        self, listener: Callable[[Event], None], interest: Interest = EVERYTHING
    ) -> None:
        self._listeners.append(listener)
        self._interests[listener] = interest
        self._merge_interests()

    def restrict_listener(self, listener: Callable[[Event], None], interest: Interest) -> None:
        """Narrow what an added listener needs built (it may still see other listeners' events)."""
        if listener in self._interests:
            self._interests[listener] = interest
            self._merge_interests()

    def remove_listener(self, listener: Callable[[Event], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
            self._interests.pop(listener, None)
            self._merge_interests()

    def _merge_interests(self) -> None:
        interests = list(self._interests.values())
        if any(i.accounts is None for i in interests):
            self._event_accounts = None
        else:
            self._event_accounts = frozenset().union(*(i.accounts or () for i in interests))
        self._book_events = not interests or any(i.books for i in interests)
        self._trade_events = not interests or any(i.trades for i in interests)

    # ------------------------------------------------------------------ accounts
    def ensure_account(self, name: str, kind: AccountKind = AccountKind.USER) -> bool:
        """Open `name` with the sandbox funds if it does not exist yet. True if it was created."""
        if name in self.ledger.accounts:
            return False
        if self.storage_refusal is not None:
            raise self.unstored("account not opened")
        if not name or name == FEE_ACCOUNT:
            raise InvalidParameter("account", name, f"{name!r} cannot be used as an account name")
        self._begin()
        account = self.ledger.open(name, kind)
        if kind is AccountKind.USER:
            account.risk = AccountRisk(self.config.default_limits)
        if self._changes is not None:
            self._changes.accounts.append(account)
        if kind is AccountKind.USER:
            for asset, amount in self.config.sandbox_funds.items():
                self._fund(account, asset, int(amount * LEDGER_SCALE))
        self._finish()
        return True

    def fund(self, name: str, asset: str, amount: Decimal) -> None:
        """Explicit funding (sandbox top-up, simulated participants)."""
        if self.storage_refusal is not None:
            raise self.unstored("not funded")
        account = self._account(name)
        units = amount * LEDGER_SCALE
        if units != units.to_integral_value():
            raise InvalidParameter("amount", amount, "amount is finer than 0.00000001")
        self._begin()
        self._fund(account, asset, int(units))
        self._finish()

    def _fund(self, account: Account, asset: str, units: int) -> None:
        if account.balance(asset)[0] + units > MAX_UNITS or units > MAX_UNITS:
            raise InvalidParameter(
                "amount",
                units_to_decimal(units),
                f"a {asset} balance cannot exceed {units_to_decimal(MAX_UNITS)}",
            )
        self.ledger.fund(account, asset, units)
        if self._changes is not None:
            self._changes.balances.add((account.name, asset))
            self._changes.funding[asset] = self._changes.funding.get(asset, 0) + units

    def clear_locks(self, account: Account, asset: str) -> None:
        """Nothing of `asset` locked in `account` any more, stored: a volatile mirror's account
        after a restart, none of whose orders rests (core/liquidity.drop_volatile)."""
        if any(account.live_orders()):
            raise ValueError(f"{account.name} has resting orders: their locks stay")
        self._begin()
        account.balance(asset)[1] = 0
        if self._changes is not None:
            self._changes.balances.add((account.name, asset))
        self._finish()

    def _account(self, name: str) -> Account:
        account = self.ledger.accounts.get(name)
        if account is None:
            raise NotFound(f"Unknown account {name!r}", {"account": name})
        return account

    # ------------------------------------------------------------------ instruments
    def add_instrument(self, instrument: Instrument) -> None:
        """Trade one more instrument (a mirrored market loaded after start), with an empty
        book; its index is the next one."""
        self.catalogue.add(instrument)
        self.books.append(OrderBook())
        self.stats.append(MarketStats())

    def replace_instrument(self, instrument: Instrument) -> None:
        """Trade the instrument at `instrument.index` on new terms (a mirrored market whose
        spec loaded); only while nothing rests in its book, whose statistics start again."""
        book = self.books[instrument.index]
        if book.best_bid() is not None or book.best_ask() is not None:
            raise ValueError(f"{instrument.key}: orders rest on its present terms")
        self.catalogue.replace(instrument)
        self.stats[instrument.index] = MarketStats()

    # ------------------------------------------------------------------ trading
    def place_order(
        self, account_name: str, request: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Validate and execute an order. Returns (order, created); created is False when the
        client_order_id was seen before from this account (the original order is returned)."""
        order, created = self.submit(self._account(account_name), request)
        return order_wire(order), created

    def submit(self, account: Account, request: dict[str, Any]) -> tuple[Order, bool]:
        """`place_order` for in-process drivers: returns the Order itself."""
        instrument, side, _type, tif, post_only, lots, ticks, client_id = parse_order(
            self.catalogue, request
        )
        return self.place(account, instrument, side, lots, ticks, tif, post_only, client_id)

    def place(
        self,
        account: Account,
        instrument: Instrument,
        side: int,
        lots: int,
        price: int | None,
        tif: TimeInForce = GTC,
        post_only: bool = False,
        client_id: str | None = None,
    ) -> tuple[Order, bool]:
        """Typed order entry (simulator, benchmarks): `price` in ticks, None for a market order.

        Everything after parsing is the same as `place_order`: idempotency, session hours,
        risk limits, balance, matching. The caller guarantees the sizes are valid for the
        instrument.
        """
        if self.storage_refusal is not None:
            raise self.unstored("not placed")
        if self.gated and instrument.index in self.gated:
            venue_gate.check(self, account, instrument, side, lots, price)
        if native_place is not None and not post_only:
            placed = native_place(self, account, instrument, side, lots, price, tif, client_id)
            if placed is not None:
                return placed, True
        order, asset, required, reject, now = self._check(
            account, instrument, side, lots, price, tif, post_only, client_id
        )
        if asset is None:  # a replay: the original order
            return order, False
        if account.risk is not None:
            risk.record(account.risk, now)
        return self._execute(account, order, asset, required, reject), True

    def validate_order(self, account_name: str, request: dict[str, Any]) -> dict[str, Any]:
        """What `place_order` would do with `request` now, changing nothing (see dry_run.py):
        the same error it would raise, or the order as it would end up and an estimate."""
        return dry_run(self, self._account(account_name), request)

    def cancel_order(self, account_name: str, order_id: str) -> dict[str, Any]:
        if self.storage_refusal is not None:
            raise self.unstored("not canceled")
        account = self._account(account_name)
        order = views.find_order(account, order_id)
        if not order.is_live:
            raise OrderNotOpen(
                "order_id",
                order_id,
                f"Order {order.id} is {order.status.value} and can no longer be canceled",
                status=order.status.value,
            )
        self._begin()
        self._cancel(account, order)
        self._finish()
        return order_wire(order)

    def cancel_live(self, account: Account, order: Order) -> None:
        """Cancel for in-process drivers (simulator): no lookup, no wire dict."""
        if self.storage_refusal is not None:
            raise self.unstored("not canceled")
        if native_cancel is not None and native_cancel(self, account, order):
            return
        self._begin()
        self._cancel(account, order)
        self._finish()

    def cancel_all(
        self, account_name: str, exchange: str | None = None, symbol: str | None = None
    ) -> list[dict[str, Any]]:
        if self.storage_refusal is not None:
            raise self.unstored("nothing canceled")
        account = self._account(account_name)
        wanted = views.instrument_filter(self.catalogue, exchange, symbol)
        targets = [o for o in account.live_orders() if wanted(o.instrument)]
        if not targets:
            return []
        self._begin()
        for order in targets:
            self._cancel(account, order)
        self._finish()
        return [order_wire(o) for o in targets]


if TYPE_CHECKING:  # the mixins' view of the exchange (exchange_state.py) is one it satisfies
    _STATE: type[ExchangeState] = Exchange

__all__ = [
    "DEFAULT_SANDBOX_FUNDS",
    "EVERYTHING",
    "Changes",
    "Clock",
    "EngineConfig",
    "Exchange",
    "FillRecord",
    "Interest",
    "MicrosClock",
    "fill_wire",
    "order_wire",
]
