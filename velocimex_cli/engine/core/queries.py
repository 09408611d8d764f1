"""The Exchange's read-only entry points: markets, books, tickers, an account's orders,
fills, balances and positions, and the state hash. Each finds what it reads and hands it to
views.py, which builds the wire shapes; none changes anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core import views
from velocimex_cli.engine.core.book import OrderBook
from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.ledger import Account
from velocimex_cli.engine.core.orders import BUY, SELL, Order
from velocimex_cli.engine.core.views import order_wire
from velocimex_cli.wire.timefmt import to_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange_state import ExchangeState


class Queries:
    """The read-only entry points of the Exchange (a mixin over its state)."""

    def has_account(self: ExchangeState, name: str) -> bool:
        return name in self.ledger.accounts

    def account(self: ExchangeState, name: str) -> Account:
        """Account `name`, to read (its balances, orders and fills); NOT_FOUND if it does not
        exist. Every change goes through the Exchange's commands (exchange.py)."""
        return self._account(name)

    def instruments(self: ExchangeState, exchange: str | None = None) -> list[dict[str, Any]]:
        return views.instruments(
            self.catalogue,
            exchange,
            self.clock(),
            self.config.always_open,
            self.halts,
            (self._maker_rate, self._taker_rate),
        )

    def market_status(self: ExchangeState) -> list[dict[str, Any]]:
        return views.market_status(self.catalogue, self.clock(), self.config.always_open)

    def instrument(self: ExchangeState, exchange: object, symbol: object) -> Instrument:
        return self.catalogue.find(exchange, symbol)

    def book(self: ExchangeState, instrument: Instrument) -> OrderBook:
        """`instrument`'s live book, to read (best prices, its sequence); orders change it."""
        return self.books[instrument.index]

    def order_book(
        self: ExchangeState, exchange: object, symbol: object, depth: int = 20
    ) -> dict[str, Any]:
        instrument = self.catalogue.find(exchange, symbol)
        return views.order_book(instrument, self.books[instrument.index], depth, self.clock())

    def ticker(self: ExchangeState, exchange: object, symbol: object) -> dict[str, Any]:
        instrument = self.catalogue.find(exchange, symbol)
        index = instrument.index
        return views.ticker(
            instrument, self.books[index], self.stats[index], to_micros(self.clock())
        )

    def tickers(self: ExchangeState) -> list[dict[str, Any]]:
        now = to_micros(self.clock())
        books, stats = self.books, self.stats
        return [
            views.ticker(i, books[i.index], stats[i.index], now) for i in self.catalogue.instruments
        ]

    def get_order(self: ExchangeState, account_name: str, order_id: str) -> dict[str, Any]:
        return order_wire(views.find_order(self._account(account_name), order_id))

    def list_orders(
        self: ExchangeState,
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
        self: ExchangeState,
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
        self: ExchangeState,
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
        self: ExchangeState,
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

    def balances(self: ExchangeState, account_name: str) -> list[dict[str, Any]]:
        return views.balances(self._account(account_name))

    def positions(self: ExchangeState, account_name: str) -> list[dict[str, Any]]:
        positions: list[dict[str, Any]] = self.positions_report(account_name)["positions"]
        return positions

    def positions_report(self: ExchangeState, account_name: str) -> dict[str, Any]:
        """Each position, then per quote asset equity, realized and unrealized PnL (see
        `views.positions_report`)."""
        return views.positions_report(
            self._account(account_name), self.catalogue.instruments, self.books
        )

    def state_hash(self: ExchangeState) -> str:
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

    def live_orders(self: ExchangeState) -> Iterable[Order]:
        for account in self.ledger.accounts.values():
            yield from account.live_orders()
