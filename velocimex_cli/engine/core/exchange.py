"""The engine's public entry points: one facade over catalogue, books, ledger and events.

Every command (place, cancel, cancel-all, funding) runs to completion in memory, then its
effects are handed to the store in one transaction (when there is one), and only then are its
events delivered and its result returned: an acknowledged order is a durable order.

The core reads no clock and no randomness of its own: `clock` is injected.

Each rule lives in a module named for it, and `Exchange` holds the state and the public
methods every caller uses:

- entry.py: parsing an order request, the pre-trade checks (with entry_rules.py for
  client_order_id replays, risk.py for limits, protection.py for the market bound,
  locks.py for what an order locks); dry_run.py: the same checks, changing nothing;
- matching.py: executing an order against the book (book.py / the C core), canceling;
  self_trade.py: self-trade prevention;
- settlement.py: moving balances, positions and fees (fees.py) on each fill;
- risk_settings.py: risk limits and the dead-man switch as commands;
- commands.py: a command's begin/finish, its events, its commit (the port: storage.py);
- a batch the store could not write is rolled back: memory is put back to what the store
  holds, its events are dropped undelivered, and every state change is refused
  (STORAGE_UNAVAILABLE, nothing executed) until the node sees the store work again
  (`resume_storing`);
- views.py: the read-only queries and the order/fill wire shapes.

The internals are mixins over one state, not objects calling objects: this is the engine's
hottest path, and a method found on a base class costs no more than one defined here. The
mixins see the exchange through `exchange_state.ExchangeState` (its state and the steps they
call on each other, each naming its module), not through this module: none imports it back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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
from velocimex_cli.engine.core.orders import BUY, GTC, SELL, Order, TimeInForce
from velocimex_cli.engine.core.risk import AccountRisk
from velocimex_cli.engine.core.risk_settings import RiskSettings
from velocimex_cli.engine.core.settlement import Settlement
from velocimex_cli.engine.core.storage import Changes, Store
from velocimex_cli.engine.core.views import fill_wire, order_wire
from velocimex_cli.wire.errors import (
    InvalidParameter,
    NotFound,
    OrderNotOpen,
    StorageUnavailable,
)
from velocimex_cli.wire.timefmt import to_micros

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


class Exchange(OrderEntry, Matching, Settlement, RiskSettings, Commands):
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

    # ------------------------------------------------------------------ lifecycle
    def attach_store(self, store: Store) -> None:
        self._store = store
        self._changes = Changes()

    def save_meta(self, key: str, value: str) -> None:
        """Keep a small named value with the engine's state (simulator state); no-op in memory."""
        if self._store is not None:
            self._store.save_meta(key, value)

    def load_meta(self, key: str) -> str | None:
        return self._store.load_meta(key) if self._store is not None else None

    def defer_commits(self, schedule_flush: Callable[[], object] | None) -> None:
        """Group commit: from now on a command leaves its changes and events pending, and the
        first command of a batch calls `schedule_flush()`, whose owner must soon call `flush()`.
        That writes the whole batch in one transaction, then delivers its events. Nothing of a
        batch may be acknowledged before its flush. None goes back to one commit per command.
        """
        self.flush()
        self._schedule_flush = schedule_flush

    @property
    def flush_pending(self) -> bool:
        """Commands have run whose changes are not durable yet (group commit only)."""
        return self._flush_pending

    def flush(self) -> None:
        """Commit the pending batch in one transaction, then deliver its events.

        If the store cannot write it, the batch is rolled back (see `_roll_back`) and
        StorageUnavailable is raised: nothing of it was done, nor ever will be."""
        self._flush_pending = False
        changes, store = self._changes, self._store
        if changes is not None and changes and store is not None:  # (changes: only with a store)
            try:
                store.commit(changes)
            except Exception as exc:
                self._roll_back(exc)
            self._changes = Changes()
        if self._pending_events:
            events, self._pending_events = self._pending_events, []
            for event in events:
                for listener in self._listeners:
                    listener(event)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None
                self._changes = None

    # ------------------------------------------------------------------ storage failures
    def _roll_back(self, exc: Exception) -> NoReturn:
        """The store could not write the pending batch: drop it and its events (none was
        delivered), put memory back to what the store holds, and refuse every state change
        until `resume_storing`. Raises StorageUnavailable."""
        self._pending_events = []
        self._changes = Changes()
        self._command_books.clear()
        self._events = None
        self._traded.clear()
        self.storage_refusal = str(exc) or type(exc).__name__
        self.reload_stored()
        if self.on_rollback is not None:
            self.on_rollback()
        raise self.unstored("not done") from exc

    def reload_stored(self) -> bool:
        """Put memory back to the state the store holds (books, ledger, orders, fills,
        counters). False if the store cannot be read: `state_unstored` then stays set."""
        try:
            if self._store is None:
                raise RuntimeError("no store to reload from")
            self._store.reload()
        except Exception:
            self.state_unstored = True
            return False
        self.state_unstored = False
        return True

    def replace_state(self, stored: Exchange) -> None:
        """Take the books, balances, orders, fills, positions, statistics and dead-man
        switches of `stored` (an exchange the store rebuilt over this one's catalogue).

        The Account objects stay the same ones (the simulator and in-process drivers hold
        them), their contents replaced; an account the rolled-back batch opened goes. Ids and
        book sequences never go back: those the batch used are not handed out again."""
        for book, fresh in zip(self.books, stored.books, strict=True):
            fresh.sequence = max(book.sequence, fresh.sequence)
        self.books = stored.books
        self.stats = stored.stats
        accounts = self.ledger.accounts
        kept = stored.ledger.accounts
        for name in [name for name in accounts if name not in kept]:
            del accounts[name]
        for name, account in kept.items():
            current = accounts.get(name)
            if current is None:
                accounts[name] = account
                continue
            for slot in Account.__slots__:
                setattr(current, slot, getattr(account, slot))
        self.ledger.funded = stored.ledger.funded
        self.next_order_id = max(self.next_order_id, stored.next_order_id)
        self.next_trade_id = max(self.next_trade_id, stored.next_trade_id)
        self._armed = {name: accounts[name] for name in stored._armed}
        self._changes = Changes() if self._store is not None else None
        self._pending_events = []
        self._flush_pending = False

    def storage_works(self) -> bool:
        """Whether the store can write again (it tries a small write)."""
        return self._store is not None and bool(self._store.probe())

    def resume_storing(self) -> None:
        """The store works again: state changes run again."""
        self.storage_refusal = None

    def unstored(self, not_done: str) -> StorageUnavailable:
        """The error for a change the engine could not store (`not_done`: "not placed")."""
        return StorageUnavailable.not_done(not_done, self.storage_refusal or "unknown")

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
    def has_account(self, name: str) -> bool:
        return name in self.ledger.accounts

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

    def account(self, name: str) -> Account:
        """Account `name`, to read (its balances, orders and fills); NOT_FOUND if it does not
        exist. Every change goes through the entry points above and below."""
        return self._account(name)

    def _account(self, name: str) -> Account:
        account = self.ledger.accounts.get(name)
        if account is None:
            raise NotFound(f"Unknown account {name!r}", {"account": name})
        return account

    # ------------------------------------------------------------------ market data
    def instruments(self, exchange: str | None = None) -> list[dict[str, Any]]:
        return views.instruments(
            self.catalogue,
            exchange,
            self.clock(),
            self.config.always_open,
            self.halts,
            (self._maker_rate, self._taker_rate),
        )

    def market_status(self) -> list[dict[str, Any]]:
        return views.market_status(self.catalogue, self.clock(), self.config.always_open)

    def instrument(self, exchange: object, symbol: object) -> Instrument:
        return self.catalogue.find(exchange, symbol)

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

    def book(self, instrument: Instrument) -> OrderBook:
        """`instrument`'s live book, to read (best prices, its sequence); orders change it."""
        return self.books[instrument.index]

    def order_book(self, exchange: object, symbol: object, depth: int = 20) -> dict[str, Any]:
        instrument = self.catalogue.find(exchange, symbol)
        return views.order_book(instrument, self.books[instrument.index], depth, self.clock())

    def ticker(self, exchange: object, symbol: object) -> dict[str, Any]:
        instrument = self.catalogue.find(exchange, symbol)
        index = instrument.index
        return views.ticker(
            instrument, self.books[index], self.stats[index], to_micros(self.clock())
        )

    def tickers(self) -> list[dict[str, Any]]:
        now = to_micros(self.clock())
        books, stats = self.books, self.stats
        return [
            views.ticker(i, books[i.index], stats[i.index], now) for i in self.catalogue.instruments
        ]

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

    # ------------------------------------------------------------------ account queries
    def get_order(self, account_name: str, order_id: str) -> dict[str, Any]:
        return order_wire(views.find_order(self._account(account_name), order_id))

    def list_orders(
        self,
        account_name: str,
        status: str = "open",
        exchange: str | None = None,
        symbol: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.order_history(
            account_name, status, exchange, symbol, limit
        )["orders"]
        return orders

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
        """A page of the account's orders, newest first (see `views.order_history`)."""
        account = self._account(account_name)
        return views.order_history(
            self.catalogue, account, status, exchange, symbol, limit, since, before
        )

    def list_fills(
        self,
        account_name: str,
        exchange: str | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        fills: list[dict[str, Any]] = self.fill_history(
            account_name, exchange, symbol, order_id, limit
        )["fills"]
        return fills

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
        """A page of the account's fills, newest first (see `views.fill_history`)."""
        account = self._account(account_name)
        return views.fill_history(
            self.catalogue, account, exchange, symbol, order_id, limit, since, before
        )

    def balances(self, account_name: str) -> list[dict[str, Any]]:
        return views.balances(self._account(account_name))

    def positions(self, account_name: str) -> list[dict[str, Any]]:
        positions: list[dict[str, Any]] = self.positions_report(account_name)["positions"]
        return positions

    def positions_report(self, account_name: str) -> dict[str, Any]:
        """Each position, then per quote asset equity, realized and unrealized PnL (see
        `views.positions_report`)."""
        return views.positions_report(
            self._account(account_name), self.catalogue.instruments, self.books
        )

    # ------------------------------------------------------------------ state
    def state_hash(self) -> str:
        """A digest of books, ledger and counters: equal before shutdown and after restart."""
        digest = hashlib.sha256()
        write = digest.update
        write(f"ids {self.next_order_id} {self.next_trade_id}\n".encode())
        for instrument, book in zip(self.catalogue.instruments, self.books, strict=True):
            write(f"book {instrument.key} {book.sequence}\n".encode())
            for side in (BUY, SELL):
                for o in book.resting_orders(side):
                    write(f"{side} {o.id} {o.account} {o.price} {o.quantity} {o.filled}\n".encode())
        for name in sorted(self.ledger.accounts):
            account = self.ledger.accounts[name]
            write(f"account {name} {account.kind.value}\n".encode())
            for asset, (total, locked) in sorted(account.balances.items()):
                write(f"  {asset} {total} {locked}\n".encode())
            for index, p in sorted(account.positions.items()):
                write(f"  pos {index} {p.quantity} {p.cost} {p.realized}\n".encode())
        return digest.hexdigest()

    def live_orders(self) -> Iterable[Order]:
        for account in self.ledger.accounts.values():
            yield from account.live_orders()


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
