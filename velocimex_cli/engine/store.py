"""Durable engine state in SQLite (standard library), WAL mode, in the engine's data directory.

Implements the core's storage port (`engine/core/storage.py`) and imports only the core: the
engine node (`engine/node.py`) plugs a store into an Exchange (a backtest's node runs without
one).

Each engine command hands its `Changes` to `SqliteStore.commit`, which writes them (orders,
fills, balances, positions, counters) in one transaction; the command is acknowledged only
after that commit. `open_exchange` rebuilds an Exchange from the file: accounts, balances,
positions, fills, and open orders put back in their books in the same priority.

The file's schema, its migrations and the connection are database.py; reading the state back
is restore.py; the checks before a start are start_checks.py.

A commit that cannot be written (disk full, I/O error) is rolled back and the Exchange puts its
memory back to the stored state with `SqliteStore.reload`. At open, `check_start` compares the
database with the commit record kept beside it (engine/commit_record.py) and `check_database`
looks for damaged pages and a wrong schema, so a lost log or a replaced, emptied or damaged
file stops the engine with one clear message instead of trading on an older state.
"""

from __future__ import annotations

import json
import logging
import operator
import os
import secrets
import sqlite3
import time
from pathlib import Path

from velocimex_cli.engine.candle_store import CandleStore
from velocimex_cli.engine.checkpointer import Checkpointer
from velocimex_cli.engine.commit_record import (
    EPOCH_SECONDS,
    RECORD_NAME,
    CommitRecord,
    RecordWriter,
    write_record,
)
from velocimex_cli.engine.core.exchange import Clock, EngineConfig, Exchange
from velocimex_cli.engine.core.market_stats import DAY_MICROS
from velocimex_cli.engine.core.orders import WIRE_NAME, Order
from velocimex_cli.engine.core.storage import Changes
from velocimex_cli.engine.database import (
    DB_NAME,
    META_UPSERT,
    connect,
    roll_back,
    unusable,
)

# Defined in database.py; also here for callers that catch it around the store (cli/engine_keys).
from velocimex_cli.engine.database import StoreError as StoreError
from velocimex_cli.engine.restore import restore
from velocimex_cli.engine.start_checks import check_start
from velocimex_cli.wire.errors import StorageUnavailable

log = logging.getLogger("vmx.engine.store")

RESUME_FREE_BYTES = 1 << 20  # free space the disk needs before the engine stores again
PROBE_BYTES = 64 * 1024  # what a storage probe writes (and frees again in the same commit)
PRUNE_EVERY = 256  # commits with trades between two deletions of trades older than a day
PRUNE_ROWS = 20_000  # the oldest rows looked at by one deletion
_PRUNE_TRADES = (
    "DELETE FROM trades WHERE trade_id IN "
    "(SELECT trade_id FROM trades ORDER BY trade_id LIMIT ?) AND timestamp <= ?"
)


_ORDER_UPSERT = """
INSERT INTO orders (id, account, exchange, symbol, side, type, tif, post_only, price, quantity,
    filled, filled_notional, status, reason, client_id, created, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET filled = excluded.filled,
    filled_notional = excluded.filled_notional, status = excluded.status,
    reason = excluded.reason, updated = excluded.updated
"""


COUNTER_BLOCK = 1000


class SqliteStore:
    """Writes each batch of changes in one transaction.

    Every SQLite page a transaction touches costs a WAL frame (~13 us here), so a commit writes
    only what moved: balance rows whose figures changed since they were last written, and the
    counters (next order and trade ids, book sequences) only when they pass a reserved bound,
    COUNTER_BLOCK ahead of what was handed out. After a crash the engine resumes from that bound
    (ids and sequences skip ahead, never repeat); `close()` writes the exact values.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        exchange: Exchange,
        db_path: Path | None = None,
        record: RecordWriter | None = None,
        epoch: int = 0,
    ) -> None:
        self.connection = connection
        self.exchange = exchange
        self.db_path = db_path
        self._reserved: list[int] | None = None  # order id, trade id, then each book's sequence
        self._written_balances: dict[tuple[str, str], tuple[int, int]] = {}
        self._checkpointer: Checkpointer | None = None
        self._commits_with_trades = 0
        self.candles = CandleStore(
            connection, lambda index: self.exchange.catalogue.instruments[index]
        )
        # The commit epoch (see engine/commit_record.py): the stored one, when the next
        # commit moves it on, and who records it beside the database.
        self._record = record
        self.epoch = epoch
        self._epoch_due = 0.0

    def commit(self, changes: Changes) -> None:
        exchange = self.exchange
        accounts = exchange.ledger.accounts
        c = self.connection
        now = time.monotonic()
        epoch = self.epoch + 1 if now >= self._epoch_due else 0
        staged = None
        c.execute("BEGIN")
        try:
            if changes.accounts:
                c.executemany(
                    "INSERT INTO accounts (name, kind) VALUES (?, ?)",
                    [(a.name, a.kind.value) for a in changes.accounts],
                )
            keep, drop = [], []
            for order in changes.orders.values():
                if order.is_live or accounts[order.account].keeps_history:
                    keep.append(_order_row(order))
                else:
                    drop.append((order.id,))
            if keep:
                c.executemany(_ORDER_UPSERT, keep)
            if drop:
                c.executemany("DELETE FROM orders WHERE id = ?", drop)
            if changes.fills:
                c.executemany(
                    "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (f.trade_id, f.order.id, f.price, f.lots, f.fee, f.liquidity, f.timestamp)
                        for f in changes.fills
                    ],
                )
            if changes.trades:
                instruments = exchange.catalogue.instruments
                c.executemany(
                    "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (t[0], instruments[t[1]].venue.name, instruments[t[1]].symbol, t[2], t[3],
                         t[4])
                        for t in changes.trades
                    ],
                )  # fmt: skip
                staged = self.candles.write(changes.trades)
                self._commits_with_trades += 1
                if self._commits_with_trades % PRUNE_EVERY == 0:
                    # Trades are stored in time order: the oldest rows are the expired ones.
                    # Looking at a bounded number of them keeps this commit short.
                    horizon = changes.trades[-1][4] - DAY_MICROS
                    c.execute(_PRUNE_TRADES, (PRUNE_ROWS, horizon))
            if changes.risk:
                rows = []
                for name in changes.risk:
                    state = accounts[name].risk
                    if state is not None:
                        rows.append(
                            (name, json.dumps(state.limits.to_json()), state.cancel_at,
                             state.cancel_timeout)
                        )  # fmt: skip
                c.executemany(
                    "INSERT INTO account_risk VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE "
                    "SET limits = excluded.limits, cancel_at = excluded.cancel_at, "
                    "cancel_timeout = excluded.cancel_timeout",
                    rows,
                )
            written = self._written_balances
            balances: dict[tuple[str, str], tuple[int, int]] = {}
            for key in changes.balances:
                total, locked = accounts[key[0]].balances[key[1]]
                if written.get(key) != (total, locked):
                    balances[key] = (total, locked)
            if balances:
                balance_rows = [(*key, *figures) for key, figures in balances.items()]
                c.executemany(
                    "INSERT INTO balances VALUES (?, ?, ?, ?) ON CONFLICT (account, asset) "
                    "DO UPDATE SET total = excluded.total, locked = excluded.locked",
                    balance_rows,
                )
            if changes.positions:
                position_rows = []
                instruments = exchange.catalogue.instruments
                for name, index in changes.positions:
                    p = accounts[name].positions[index]
                    i = instruments[index]
                    position_rows.append(
                        (name, i.venue.name, i.symbol, p.quantity, p.cost, p.realized)
                    )
                c.executemany(
                    "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
                    "(account, exchange, symbol) DO UPDATE SET quantity = excluded.quantity, "
                    "cost = excluded.cost, realized = excluded.realized",
                    position_rows,
                )
            counters = self._counters()
            reserved = self._reserved
            if (
                reserved is None
                or len(reserved) != len(counters)  # an instrument added after start
                or any(map(operator.gt, counters, reserved))
            ):
                reserved = [value + COUNTER_BLOCK for value in counters]
                c.executemany(META_UPSERT, _counter_rows(reserved))
                c.execute(META_UPSERT, _keys_row(exchange))
            if changes.funding:
                c.execute(META_UPSERT, ("funded", json.dumps(exchange.ledger.funded)))
            if epoch:
                c.execute(META_UPSERT, ("epoch", str(epoch)))
            c.execute("COMMIT")
        except BaseException:
            roll_back(c)
            raise
        self._reserved = reserved
        written.update(balances)
        if staged is not None:
            self.candles.commit(staged)
        if epoch:
            self.epoch = epoch
            self._epoch_due = now + EPOCH_SECONDS
            if self._record is not None:
                self._record.stored(epoch)

    def reload(self) -> None:
        """Rebuild the exchange's state from the database (after a batch failed to commit)."""
        exchange = self.exchange
        stored = Exchange(exchange.config, exchange.clock)
        stored.catalogue = exchange.catalogue  # the same instruments (the drivers hold them)
        restore(self.connection, stored)
        exchange.replace_state(stored)
        self._reserved = None  # the next commit writes the counters' bounds again
        self.candles.forget()
        self._written_balances = {}
        self._epoch_due = 0.0

    def probe(self) -> bool:
        """Whether writes work again: the disk has RESUME_FREE_BYTES free and PROBE_BYTES
        can be committed to the database (and are freed again by the next commit)."""
        if self.db_path is not None:
            try:
                disk = os.statvfs(self.db_path.parent)
            except OSError:
                return False
            if disk.f_bavail * disk.f_frsize < RESUME_FREE_BYTES:
                return False
        c = self.connection
        try:
            c.execute(META_UPSERT, ("probe", b"\0" * PROBE_BYTES))  # written, then freed
            c.execute("DELETE FROM meta WHERE key = 'probe'")
        except sqlite3.Error:
            roll_back(c)
            return False
        return True

    def _counters(self) -> list[int]:
        exchange = self.exchange
        return [
            exchange.next_order_id,
            exchange.next_trade_id,
            *(b.sequence for b in exchange.books),
        ]

    def save_meta(self, key: str, value: str) -> None:
        try:
            self.connection.execute(META_UPSERT, (key, value))
        except sqlite3.Error as exc:
            raise StorageUnavailable.not_done(f"{key} not saved", str(exc)) from None

    def load_meta(self, key: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def checkpoint_in_background(self, db_path: Path, interval_seconds: float) -> None:
        """Move WAL checkpoints off the committing thread (see engine/checkpointer.py)."""
        self._checkpointer = Checkpointer(db_path, interval_seconds)
        self._checkpointer.start(self.connection)

    def close(self) -> None:
        """Write the exact counters (a restart then resumes exactly where this left off)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        try:
            self.connection.executemany(META_UPSERT, _counter_rows(self._counters()))
            self.connection.execute(META_UPSERT, _keys_row(self.exchange))
            self.connection.execute(
                META_UPSERT,
                ("last_prices", json.dumps([s.last_price for s in self.exchange.stats])),
            )
        except sqlite3.Error as exc:  # e.g. a full disk: the next start skips ahead instead
            log.warning("could not write the exact counters on close (%s)", exc)
        finally:
            self.connection.close()
            if self._record is not None:
                self._record.stop()


def _counter_rows(counters: list[int]) -> list[tuple[str, str]]:
    return [
        ("next_order_id", str(counters[0])),
        ("next_trade_id", str(counters[1])),
        ("sequences", json.dumps(counters[2:])),
    ]


def _keys_row(exchange: Exchange) -> tuple[str, str]:
    """The instruments' keys in index order: the order of the stored `sequences` and
    `last_prices`, so a catalogue that changed (a venue mirrored or no longer) reads them back
    by instrument, not by position."""
    return ("instrument_keys", json.dumps([i.key for i in exchange.catalogue.instruments]))


def _order_row(o: Order) -> tuple:
    i = o.instrument
    return (
        o.id, o.account, i.venue.name, i.symbol, o.side, WIRE_NAME[o.type], WIRE_NAME[o.tif],
        int(o.post_only), o.price, o.quantity, o.filled, o.filled_notional, WIRE_NAME[o.status],
        WIRE_NAME[o.reason], o.client_id, o.created, o.updated,
    )  # fmt: skip


def open_exchange(
    data_dir: Path,
    config: EngineConfig,
    clock: Clock,
    *,
    synchronous: str = "NORMAL",
    checkpoint_seconds: float | None = None,
    accept_data_loss: bool = False,
) -> Exchange:
    """An Exchange restored from `data_dir/engine.db` (created when missing), persisting to it.

    `checkpoint_seconds` moves WAL checkpoints to a background thread at that interval (for
    a long-running server); None leaves them to SQLite, inside commits. Refuses (DataLoss) a
    database that lacks commits the data directory had stored, unless `accept_data_loss`.
    """
    db_path = data_dir / DB_NAME
    check_start(data_dir, accept_data_loss)
    connection = connect(db_path, synchronous=synchronous)
    exchange = Exchange(config, clock)
    try:
        restore(connection, exchange)
        record = _own_record(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise unusable(db_path, f"cannot be read ({exc})") from None
    except (KeyError, ValueError, TypeError) as exc:
        connection.close()
        raise unusable(db_path, f"holds data this vmx cannot read ({exc!r})") from None
    except BaseException:
        connection.close()
        raise
    try:
        write_record(data_dir, record)
    except OSError as exc:  # the previous record stays: it never names more than is stored
        log.warning(
            "cannot write %s (%s); it is written again after the next commits", RECORD_NAME, exc
        )
    store = SqliteStore(connection, exchange, db_path, RecordWriter(data_dir, record), record.epoch)
    if checkpoint_seconds is not None:
        store.checkpoint_in_background(db_path, checkpoint_seconds)
    exchange.attach_store(store)
    exchange.db_path = db_path
    return exchange


def _own_record(connection: sqlite3.Connection) -> CommitRecord:
    """The database's id and epoch, giving it an id first if it has none (a new database)."""
    meta = dict(connection.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                   ("database_id", "epoch")).fetchall())  # fmt: skip
    database_id = meta.get("database_id")
    if database_id is None:
        database_id = secrets.token_hex(8)
        connection.execute(META_UPSERT, ("database_id", database_id))
    return CommitRecord(database_id, int(meta.get("epoch", 0)))
