"""The engine database: its schema, the migrations that bring an older file up to it, and
the connection every part of the engine opens it with (the store, the key commands).

The schema version is SQLite's `user_version`; `MIGRATIONS[n]` takes a database from version
n to n + 1, so an older file is upgraded in place on open and a newer one is refused.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from velocimex_cli import paths
from velocimex_cli.engine.candle_store import migrate_3_to_4

log = logging.getLogger("vmx.engine.store")

DB_NAME = "engine.db"

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
SCHEMA_VERSION = len(MIGRATIONS)

META_UPSERT = (
    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class StoreError(RuntimeError):
    """The data directory cannot be used (newer schema, unreadable file)."""


def unusable(db_path: Path, what: str) -> StoreError:
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
        raise unusable(db_path, f"is not a usable engine database ({exc})") from None
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
                roll_back(connection)
                raise
            version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        connection.close()
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            raise StoreError(f"cannot write {db_path}: {exc}; free some space") from None
        raise unusable(db_path, f"cannot be upgraded ({exc})") from None
    return connection


def roll_back(connection: sqlite3.Connection) -> None:
    """End the open transaction; SQLite may already have rolled it back itself (SQLITE_FULL
    and I/O errors do), which is no second error."""
    if connection.in_transaction:
        try:
            connection.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("could not roll back a failed transaction", exc_info=True)
