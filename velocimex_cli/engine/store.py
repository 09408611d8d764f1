"""Durable engine state in SQLite (standard library), WAL mode, in the engine's data directory.

Implements the core's storage port (`engine/core/storage.py`) and imports only the core: the
engine node (`engine/node.py`) plugs a store into an Exchange. `MemoryStore` is the port without
a file, for backtests.

Each engine command hands its `Changes` to `SqliteStore.commit`, which writes them (orders,
fills, balances, positions, counters) in one transaction; the command is acknowledged only
after that commit. `open_exchange` rebuilds an Exchange from the file: accounts, balances,
positions, fills, and open orders put back in their books in the same priority.

The schema version is SQLite's `user_version`; `MIGRATIONS[n]` takes a database from version
n to n + 1, so an older file is upgraded in place on open and a newer one is refused.

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
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from velocimex_cli import paths
from velocimex_cli.engine.candle_store import CandleStore, migrate_3_to_4
from velocimex_cli.engine.checkpointer import Checkpointer
from velocimex_cli.engine.commit_record import (
    EPOCH_SECONDS,
    RECORD_NAME,
    CommitRecord,
    DamagedRecord,
    RecordWriter,
    read_record,
    write_record,
)
from velocimex_cli.engine.core.exchange import Clock, EngineConfig, Exchange
from velocimex_cli.engine.core.fills import FillRecord
from velocimex_cli.engine.core.instruments import Catalogue, Instrument
from velocimex_cli.engine.core.ledger import AccountKind, Position
from velocimex_cli.engine.core.market_stats import DAY_MICROS
from velocimex_cli.engine.core.orders import (
    WIRE_NAME,
    Order,
    OrderType,
    Reason,
    Status,
    TimeInForce,
)
from velocimex_cli.engine.core.risk import AccountRisk, RiskLimits
from velocimex_cli.engine.core.storage import Changes
from velocimex_cli.wire.errors import StorageUnavailable
from velocimex_cli.wire.timefmt import to_micros

log = logging.getLogger("vmx.engine.store")

DB_NAME = "engine.db"
RESUME_FREE_BYTES = 1 << 20  # free space the disk needs before the engine stores again
PROBE_BYTES = 64 * 1024  # what a storage probe writes (and frees again in the same commit)

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (name TEXT PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE balances (
    account TEXT NOT NULL, asset TEXT NOT NULL,
    total INTEGER NOT NULL, locked INTEGER NOT NULL,
    PRIMARY KEY (account, asset)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, exchange TEXT NOT NULL, symbol TEXT NOT NULL,
    side INTEGER NOT NULL, type TEXT NOT NULL, tif TEXT NOT NULL, post_only INTEGER NOT NULL,
    price INTEGER NOT NULL, quantity INTEGER NOT NULL, filled INTEGER NOT NULL,
    filled_notional INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, client_id TEXT,
    created INTEGER NOT NULL, updated INTEGER NOT NULL
);
CREATE INDEX orders_live ON orders (status) WHERE status IN ('open', 'partially_filled');
CREATE TABLE fills (
    trade_id INTEGER NOT NULL, order_id INTEGER NOT NULL, price INTEGER NOT NULL,
    lots INTEGER NOT NULL, fee INTEGER NOT NULL, liquidity TEXT NOT NULL,
    timestamp INTEGER NOT NULL, PRIMARY KEY (trade_id, order_id)
);
CREATE TABLE positions (
    account TEXT NOT NULL, exchange TEXT NOT NULL, symbol TEXT NOT NULL,
    quantity INTEGER NOT NULL, cost INTEGER NOT NULL, realized INTEGER NOT NULL,
    PRIMARY KEY (account, exchange, symbol)
);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,
    salt BLOB NOT NULL, secret_hash BLOB NOT NULL, permissions TEXT NOT NULL,
    ip_allow TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, revoked_at TEXT
);
"""


def _migrate_0_to_1(connection: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would commit the migration's transaction.
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            connection.execute(statement)


_SCHEMA_V2 = """
CREATE TABLE trades (
    trade_id INTEGER PRIMARY KEY, exchange TEXT NOT NULL, symbol TEXT NOT NULL,
    price INTEGER NOT NULL, lots INTEGER NOT NULL, timestamp INTEGER NOT NULL
);
CREATE TABLE account_risk (
    account TEXT PRIMARY KEY, limits TEXT NOT NULL, cancel_at INTEGER,
    cancel_timeout INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO trades
    SELECT f.trade_id, o.exchange, o.symbol, f.price, f.lots, f.timestamp
    FROM fills f JOIN orders o ON o.id = f.order_id;
UPDATE positions SET realized = realized - coalesce((
    SELECT sum(f.fee) FROM fills f JOIN orders o ON o.id = f.order_id
    WHERE o.account = positions.account AND o.exchange = positions.exchange
        AND o.symbol = positions.symbol), 0)
"""


def _migrate_1_to_2(connection: sqlite3.Connection) -> None:
    """Every trade (simulated ones too) for the 24-hour volume after a restart, the accounts'
    risk limits and dead-man switches; realized PnL now includes the fees already paid."""
    for statement in _SCHEMA_V2.split(";"):
        if statement.strip():
            connection.execute(statement)


_KEY_COLUMNS_V3 = (
    ("expires_at", "TEXT"),
    ("lifetime_seconds", "INTEGER"),
    ("rotated_at", "TEXT"),
    ("previous_salt", "BLOB"),
    ("previous_hash", "BLOB"),
    ("previous_until", "TEXT"),
)


def _migrate_2_to_3(connection: sqlite3.Connection) -> None:
    """Key expiry and rotation (engine/keys.py): every existing key keeps working as it did,
    with no expiry and no rotated-out secret. Columns already there are kept (a file whose
    version number was set back)."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(api_keys)")}
    for name, kind in _KEY_COLUMNS_V3:
        if name not in present:
            connection.execute(f"ALTER TABLE api_keys ADD COLUMN {name} {kind}")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migrate_0_to_1,
    _migrate_1_to_2,
    _migrate_2_to_3,
    migrate_3_to_4,  # candles (engine/candle_store.py)
]
PRUNE_EVERY = 256  # commits with trades between two deletions of trades older than a day
PRUNE_ROWS = 20_000  # the oldest rows looked at by one deletion
_PRUNE_TRADES = (
    "DELETE FROM trades WHERE trade_id IN "
    "(SELECT trade_id FROM trades ORDER BY trade_id LIMIT ?) AND timestamp <= ?"
)
SCHEMA_VERSION = len(MIGRATIONS)


class MemoryStore:
    """The storage port without a file: the Exchange's memory is the state, so commits are
    counted and dropped; named values (simulator state, deployments) are kept in a dict."""

    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.commits = 0

    def commit(self, changes: Changes) -> None:
        self.commits += 1

    def save_meta(self, key: str, value: str) -> None:
        self.meta[key] = value

    def load_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def reload(self) -> None:
        raise StoreError("an in-memory store keeps no state apart from the exchange")

    def probe(self) -> bool:
        return True

    def close(self) -> None:
        pass


class StoreError(RuntimeError):
    """The data directory cannot be used (newer schema, unreadable file)."""


class DataLoss(StoreError):
    """Commits the data directory had stored are missing from its database."""


def _unusable(db_path: Path, what: str) -> StoreError:
    return StoreError(
        f"{db_path} {what}; nothing was changed. Restore it from a backup, or: Move it away "
        "(and its -wal/-shm files) and start with --accept-data-loss to begin with fresh data "
        "(or use another --data-dir)"
    )


def connect(db_path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection to the engine database, created and migrated to the current schema.

    WAL lets the key commands (`vmx engine keys ...`) and a running server share the file.
    synchronous=NORMAL in WAL mode survives a crash of the process (not a power cut); pass
    "FULL" to fsync every commit.
    """
    if str(db_path) != ":memory:":
        # 0600 in a 0700 directory whatever the umask; SQLite gives the -wal and -shm files
        # the database file's mode, so they are private too.
        os.close(paths.open_private(db_path, os.O_RDWR))
    connection = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("PRAGMA busy_timeout = 5000")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:  # not SQLite at all, or damaged beyond opening
        connection.close()
        raise _unusable(db_path, f"is not a usable engine database ({exc})") from None
    if version > SCHEMA_VERSION:
        connection.close()
        raise StoreError(
            f"{db_path} has schema version {version}, newer than this vmx understands "
            f"({SCHEMA_VERSION}); upgrade vmx or use another --data-dir"
        )
    try:
        while version < SCHEMA_VERSION:
            connection.execute("BEGIN IMMEDIATE")
            try:
                current = connection.execute("PRAGMA user_version").fetchone()[0]
                if current == version:  # another process may have migrated meanwhile
                    MIGRATIONS[version](connection)
                    connection.execute(f"PRAGMA user_version = {version + 1}")
                connection.execute("COMMIT")
            except BaseException:
                _roll_back(connection)
                raise
            version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        connection.close()
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            raise StoreError(f"cannot write {db_path}: {exc}; free some space") from None
        raise _unusable(db_path, f"cannot be upgraded ({exc})") from None
    return connection


def _roll_back(connection: sqlite3.Connection) -> None:
    """End the open transaction; SQLite may already have rolled it back itself (SQLITE_FULL
    and I/O errors do), which is no second error."""
    if connection.in_transaction:
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("could not roll back a failed transaction", exc_info=True)


_ORDER_UPSERT = """
INSERT INTO orders (id, account, exchange, symbol, side, type, tif, post_only, price, quantity,
    filled, filled_notional, status, reason, client_id, created, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET filled = excluded.filled,
    filled_notional = excluded.filled_notional, status = excluded.status,
    reason = excluded.reason, updated = excluded.updated
"""


COUNTER_BLOCK = 1000

_META_UPSERT = (
    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


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
                c.executemany(_META_UPSERT, _counter_rows(reserved))
                c.execute(_META_UPSERT, _keys_row(exchange))
            if changes.funding:
                c.execute(_META_UPSERT, ("funded", json.dumps(exchange.ledger.funded)))
            if epoch:
                c.execute(_META_UPSERT, ("epoch", str(epoch)))
            c.execute("COMMIT")
        except BaseException:
            _roll_back(c)
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
        _restore(self.connection, stored)
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
            c.execute(_META_UPSERT, ("probe", b"\0" * PROBE_BYTES))  # written, then freed
            c.execute("DELETE FROM meta WHERE key = 'probe'")
        except sqlite3.Error:
            _roll_back(c)
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
            self.connection.execute(_META_UPSERT, (key, value))
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
            self.connection.executemany(_META_UPSERT, _counter_rows(self._counters()))
            self.connection.execute(_META_UPSERT, _keys_row(self.exchange))
            self.connection.execute(
                _META_UPSERT,
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


def _by_instrument(exchange: Exchange, meta: dict[str, str], name: str) -> list[tuple[int, int]]:
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
        _restore(connection, exchange)
        record = _own_record(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise _unusable(db_path, f"cannot be read ({exc})") from None
    except (KeyError, ValueError, TypeError) as exc:
        connection.close()
        raise _unusable(db_path, f"holds data this vmx cannot read ({exc!r})") from None
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
        connection.execute(_META_UPSERT, ("database_id", database_id))
    return CommitRecord(database_id, int(meta.get("epoch", 0)))


def _stored_position(db_path: Path) -> CommitRecord | None:
    """The id and epoch engine.db holds; None if it is missing, empty or holds no engine data.
    Reads only (SQLite may replay the log into its index, which changes no data)."""
    try:
        if db_path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(db_path))}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise _unusable(db_path, f"cannot be opened ({exc})") from None
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            return None
        meta = dict(connection.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                       ("database_id", "epoch")).fetchall())  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise _unusable(db_path, f"is not a usable engine database ({exc})") from None
    finally:
        connection.close()
    if "database_id" not in meta:
        return None
    return CommitRecord(meta["database_id"], int(meta.get("epoch", 0)))


def check_start(data_dir: Path, accept_data_loss: bool = False) -> None:
    """Refuse (DataLoss) a database that lacks commits its data directory had stored: the
    write-ahead log deleted, truncated or damaged; engine.db deleted, emptied or replaced.
    With `accept_data_loss` the loss is logged and the engine starts from what is there.
    A brand-new data directory, and one from before the record existed, pass."""
    db_path = data_dir / DB_NAME
    try:
        record = read_record(data_dir)
    except DamagedRecord as exc:
        problem: str | None = f"{exc}, so lost commits cannot be ruled out"
        record = None
    else:
        if record is None:
            return
        problem = _missing(db_path, record)
    if problem is None:
        return
    if accept_data_loss:
        log.warning("starting with data loss accepted (--accept-data-loss): %s", problem)
        _set_aside_orphaned_log(db_path)
        return
    raise DataLoss(
        f"{problem}. The engine refuses to trade on an older state; nothing was changed. "
        f"Restore {data_dir} from a backup, or start from what is there with "
        "`vmx engine serve --accept-data-loss` (or `vmx engine start --accept-data-loss`)"
    )


def _missing(db_path: Path, record: CommitRecord) -> str | None:
    """What the database lacks of `record`, in words (None: nothing)."""
    stored = _stored_position(db_path)
    wal = f"{db_path.name}-wal"
    if stored is None:
        state = "missing" if not db_path.exists() else "empty (it holds no engine data)"
        return (
            f"{db_path} is {state}, but this data directory had stored commits up to "
            f"epoch {record.epoch}: every order, fill and balance stored there is missing"
        )
    if stored.database_id != record.database_id:
        return (
            f"{db_path} is not the database this data directory stored to (its id is "
            f"{stored.database_id}, the record's {record.database_id}): it was replaced"
        )
    if stored.epoch < record.epoch:
        return (
            f"{db_path} ends at commit epoch {stored.epoch}, but commits up to epoch "
            f"{record.epoch} had been stored: its write-ahead log ({wal}) is missing, "
            "truncated or damaged, and acknowledged orders, fills or balances are lost"
        )
    return None


def _set_aside_orphaned_log(db_path: Path) -> None:
    """A log without its database must not be replayed into a new one: rename it."""
    if db_path.exists() and db_path.stat().st_size > 0:
        return
    for suffix in ("-wal", "-shm"):
        orphan = db_path.with_name(db_path.name + suffix)
        if orphan.exists():
            orphan.replace(orphan.with_name(orphan.name + ".orphaned"))


def check_database(db_path: Path) -> None:
    """One clear StoreError for a damaged database (a page that fails SQLite's checks) or a
    schema this vmx cannot use (a table or column missing), before anything trusts it."""
    connection = connect(db_path)
    try:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            said = "; ".join(" ".join(problem.split()) for problem in problems)
            raise _unusable(db_path, f"is damaged ({said})")
        expected = connect(Path(":memory:"))
        try:
            for (table,) in expected.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                wanted = {row[1] for row in expected.execute(f"PRAGMA table_info({table})")}
                have = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                if not wanted <= have:
                    lacking = ", ".join(sorted(wanted - have))
                    raise _unusable(db_path, f"has a wrong schema (table {table} lacks {lacking})")
        finally:
            expected.close()
    finally:
        connection.close()


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


def _restore(c: sqlite3.Connection, exchange: Exchange) -> None:
    ledger = exchange.ledger
    catalogue = exchange.catalogue
    meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
    exchange.next_order_id = int(meta.get("next_order_id", 1))
    exchange.next_trade_id = int(meta.get("next_trade_id", 1))
    for index, sequence in _by_instrument(exchange, meta, "sequences"):
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
    for index, price in _by_instrument(exchange, meta, "last_prices"):
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
