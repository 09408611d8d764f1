"""Reading the engine's state back from its database into an Exchange: accounts, balances,
positions, fills, risk limits, counters, the ticker's statistics, and open orders put back in
their books in the same priority. The store (store.py) does it at open and after a batch it
could not write.
"""

from __future__ import annotations

import json
import sqlite3

from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.instruments import Catalogue, Instrument
from velocimex_cli.engine.core.ledger import AccountKind, Position
from velocimex_cli.engine.core.market_stats import DAY_MICROS
from velocimex_cli.engine.core.orders import Order, OrderType, Reason, Status, TimeInForce
from velocimex_cli.engine.core.risk import AccountRisk, RiskLimits
from velocimex_cli.engine.database import StoreError
from velocimex_cli.wire.timefmt import to_micros


def restore(c: sqlite3.Connection, exchange: Exchange) -> None:
    ledger = exchange.ledger
    catalogue = exchange.catalogue
    meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
    exchange.next_order_id = int(meta.get("next_order_id", 1))
    exchange.next_trade_id = int(meta.get("next_trade_id", 1))
    for index, sequence in by_instrument(exchange, meta, "sequences"):
        exchange.books[index].sequence = sequence
    ledger.funded = {k: int(v) for k, v in json.loads(meta.get("funded", "{}")).items()}
    for name, kind in c.execute("SELECT name, kind FROM accounts ORDER BY rowid"):
        if name not in ledger.accounts:
            account = ledger.open(name, AccountKind(kind))
            if account.kind is AccountKind.USER:
                account.risk = AccountRisk(exchange.config.default_limits)
    for name, asset, total, locked in c.execute("SELECT * FROM balances"):
        ledger.accounts[name].balances[asset] = [total, locked]
    for name, exchange_name, symbol, quantity, cost, realized in c.execute(
        "SELECT * FROM positions"
    ):
        index = _stored_instrument(catalogue, exchange_name, symbol, "a position").index
        ledger.accounts[name].positions[index] = Position(quantity, cost, realized)
    orders: dict[int, Order] = {}
    for row in c.execute("SELECT * FROM orders ORDER BY id"):
        (oid, name, exchange_name, symbol, side, type_, tif, post_only, price, quantity, filled,
         filled_notional, status, reason, client_id, created, updated) = row  # fmt: skip
        instrument = _stored_instrument(catalogue, exchange_name, symbol, f"order {oid}")
        order = Order(
            oid, name, instrument, side, OrderType(type_), TimeInForce(tif), bool(post_only),
            price, quantity, client_id, created,
        )  # fmt: skip
        order.updated = updated
        order.filled = filled
        order.filled_notional = filled_notional
        order.status = Status(status)
        order.reason = Reason(reason) if reason is not None else None
        account = ledger.accounts[name]
        account.orders[oid] = order
        if client_id is not None:
            account.client_ids[client_id] = oid
        orders[oid] = order
        if order.is_live:
            exchange.books[instrument.index].rest(order)
    for book in exchange.books:
        book.changed = False
    for account in ledger.accounts.values():
        account.open_orders = sum(1 for o in account.orders.values() if o.is_live)
    for name, limits, cancel_at, timeout in c.execute("SELECT * FROM account_risk"):
        if name in ledger.accounts:
            stored = RiskLimits.from_json(json.loads(limits))
            exchange.restore_risk(name, stored, cancel_at, timeout)
    for trade_id, order_id, price, lots, fee, liquidity, timestamp in c.execute(
        "SELECT * FROM fills ORDER BY trade_id, order_id"
    ):
        order = orders[order_id]
        record = FillRecord(trade_id, order, price, lots, fee, liquidity, timestamp)
        ledger.accounts[order.account].fills.append(record)
    # The ticker's last price and 24-hour volume: every trade, users' and simulated.
    stats = exchange.stats
    for index, price in by_instrument(exchange, meta, "last_prices"):
        stats[index].last_price = price
    horizon = to_micros(exchange.clock()) - DAY_MICROS
    for exchange_name, symbol, price, lots, timestamp in c.execute(
        "SELECT exchange, symbol, price, lots, timestamp FROM trades WHERE timestamp > ? "
        "ORDER BY trade_id",
        (horizon,),
    ):
        traded = catalogue._by_key.get((exchange_name, symbol))
        if traded is not None:  # (a market no longer traded: its volume is of no use)
            stats[traded.index].record(timestamp, price, lots)


def by_instrument(exchange: Exchange, meta: dict[str, str], name: str) -> list[tuple[int, int]]:
    """(index, value) of a stored per-instrument list, for the instruments still traded."""
    values = json.loads(meta.get(name, "[]"))
    keys = meta.get("instrument_keys")
    if keys is None:  # written before the keys were: by position
        return list(enumerate(values[: len(exchange.books)]))
    index = {i.key: i.index for i in exchange.catalogue.instruments}
    return [
        (index[key], value)
        for key, value in zip(json.loads(keys), values, strict=False)
        if key in index
    ]


def _stored_instrument(
    catalogue: Catalogue, exchange_name: str, symbol: str, what: str
) -> Instrument:
    """The instrument a stored row names; a clear StoreError when this engine does not trade
    it (a mirrored venue's market, and the engine now started without that mirror)."""
    found = catalogue._by_key.get((exchange_name, symbol))
    if found is None:
        raise StoreError(
            f"the data directory holds {what} on {exchange_name}:{symbol}, a market this engine "
            f"does not trade now; start it with the mirror that lists it (e.g. --mirror "
            f"{exchange_name.lower()}:{symbol}), or use another --data-dir; nothing was changed"
        )
    return found
