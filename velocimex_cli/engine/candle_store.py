"""The candles' part of the engine database (engine/store.py commits through it).

Every commit that stores trades also stores their candles (`engine/core/candles.py`) in the
same transaction: the newest candle of each series the batch traded in is written whole (an
upsert of one row per series), so the database always holds each candle exactly as its stored
trades make it and a restart (or a crash) resumes each series from its newest row. The route
reads the rows, never memory: a candle shown is a stored one, the newest possibly still in
progress.

How long candles are kept is `wire/candles.RETENTION_DAYS`: when a series opens a new period,
its rows older than the retention are deleted (a short range delete on the primary key).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from velocimex_cli.engine.core.candles import NAMES, Candle, CandleBook, Staged, Trade, candle_wire
from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.wire.candles import RETENTION_DAYS

SERIES = len(NAMES)
RETENTION_MICROS = tuple(RETENTION_DAYS[name] * 86_400 * 1_000_000 for name in NAMES)

# The quote volume (price x quantity in tick x lot units) is TEXT: a busy day's sum may pass
# SQLite's 64-bit integers.
SCHEMA_V4 = """
CREATE TABLE candles (
    exchange TEXT NOT NULL, symbol TEXT NOT NULL, period TEXT NOT NULL, open_time INTEGER NOT NULL,
    open INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL,
    volume INTEGER NOT NULL, trades INTEGER NOT NULL, notional TEXT NOT NULL,
    PRIMARY KEY (exchange, symbol, period, open_time)
) WITHOUT ROWID
"""

_UPSERT = (
    "INSERT INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (exchange, symbol, period, open_time) DO UPDATE SET high = excluded.high, "
    "low = excluded.low, close = excluded.close, volume = excluded.volume, "
    "trades = excluded.trades, notional = excluded.notional"
)
_EXPIRE = "DELETE FROM candles WHERE exchange = ? AND symbol = ? AND period = ? AND open_time < ?"
_NEWEST = (
    "SELECT open_time, open, high, low, close, volume, trades, notional FROM candles "
    "WHERE exchange = ? AND symbol = ? AND period = ? ORDER BY open_time DESC LIMIT ?"
)


def migrate_3_to_4(connection: sqlite3.Connection) -> None:
    """Candles of every instrument's trades (kept across restarts for a window)."""
    connection.execute(SCHEMA_V4)


class CandleStore:
    """Writes the candles of each committed batch's trades and reads them back."""

    def __init__(
        self, connection: sqlite3.Connection, instrument_at: Callable[[int], Instrument]
    ) -> None:
        self.connection = connection
        self._instrument_at = instrument_at
        self.book = CandleBook(self._load)

    def _load(self, index: int, position: int) -> Candle | None:
        rows = self._rows(self._instrument_at(index), NAMES[position], 1)
        return rows[0] if rows else None

    def _rows(self, instrument: Instrument, interval: str, limit: int) -> list[Candle]:
        """The newest `limit` stored candles of a series, newest first."""
        found = self.connection.execute(
            _NEWEST, (instrument.venue.name, instrument.symbol, interval, limit)
        ).fetchall()
        return [[*row[:7], int(row[7])] for row in found]

    def write(self, trades: Sequence[Trade]) -> Staged:
        """Store the candles of `trades` in the open transaction (`commit` once it is
        committed; if it is not, the book is unchanged)."""
        staged = self.book.stage(trades)
        instrument_at = self._instrument_at
        rows = []
        for key, candle in staged.rows():
            index, position = divmod(key, SERIES)
            instrument = instrument_at(index)
            rows.append(
                (instrument.venue.name, instrument.symbol, NAMES[position], *candle[:7],
                 str(candle[7]))
            )  # fmt: skip
        self.connection.executemany(_UPSERT, rows)
        if staged.opened:
            expired = []
            for key, start in staged.opened.items():
                index, position = divmod(key, SERIES)
                instrument = instrument_at(index)
                expired.append(
                    (instrument.venue.name, instrument.symbol, NAMES[position],
                     start - RETENTION_MICROS[position])
                )  # fmt: skip
            self.connection.executemany(_EXPIRE, expired)
        return staged

    def commit(self, staged: Staged) -> None:
        self.book.commit(staged)

    def forget(self) -> None:
        """The exchange's state was reloaded from the database: read the series again."""
        self.book.forget()

    def read(self, instrument: Instrument, interval: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` stored candles of `instrument` at `interval`, oldest first, as
        the candles route answers them."""
        rows = self._rows(instrument, interval, limit)
        rows.reverse()
        return [candle_wire(instrument, row) for row in rows]
