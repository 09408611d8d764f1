"""The candles' part of the engine database (engine/store.py commits through it).

Every commit that stores trades also stores their candles (`engine/core/candles.py`) in the
same transaction: each instrument the batch traded in gets its row of `open_candles` written
whole (its newest candle of every interval: one write per instrument, whatever the number of
trades), and a candle whose period a later trade ended moves to `candles`. So the database
always holds each candle exactly as its stored trades make it, a restart (or a crash) resumes
each series from its stored newest candle, and the route reads the rows, never memory: a
candle shown is a stored one, the newest possibly still in progress.

How long candles are kept is `wire/candles.RETENTION_DAYS`: when a series opens a new period,
its finished candles older than the retention are deleted (a short range delete on the
primary key).
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
CANDLE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "trades", "notional")
INT64_MAX = 2**63 - 1
NO_CANDLE = (None,) * len(CANDLE_COLUMNS)

# `candles`: every candle whose period has ended, and which a later trade of its series
# finished. `open_candles`: each instrument's newest candle of every interval, one row per
# instrument (one write per instrument a commit traded in), columns `<column>_<interval>`.
# The quote volume (price x quantity in tick x lot units) may pass SQLite's 64-bit integers on
# a busy day: then it is stored as its decimal text.
_OPEN_COLUMNS = ", ".join(f"{column}_{name} INTEGER" for name in NAMES for column in CANDLE_COLUMNS)
SCHEMA_V4 = f"""
CREATE TABLE IF NOT EXISTS candles (
    exchange TEXT NOT NULL, symbol TEXT NOT NULL, period TEXT NOT NULL, open_time INTEGER NOT NULL,
    open INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL,
    volume INTEGER NOT NULL, trades INTEGER NOT NULL, notional INTEGER NOT NULL,
    PRIMARY KEY (exchange, symbol, period, open_time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS open_candles (
    exchange TEXT NOT NULL, symbol TEXT NOT NULL, {_OPEN_COLUMNS},
    PRIMARY KEY (exchange, symbol)
) WITHOUT ROWID
"""

_FINISHED = "INSERT OR REPLACE INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_OPEN_NEW = (
    f"INSERT INTO open_candles VALUES ({', '.join('?' * (2 + SERIES * len(CANDLE_COLUMNS)))})"
)
# Updating the row in place costs half what replacing it does (one b-tree write, not two).
_OPEN_UPDATE = (
    "UPDATE open_candles SET "
    + ", ".join(f"{column}_{name} = ?" for name in NAMES for column in CANDLE_COLUMNS)
    + " WHERE exchange = ? AND symbol = ?"
)
_EXPIRE = "DELETE FROM candles WHERE exchange = ? AND symbol = ? AND period = ? AND open_time < ?"
_CLOSED = (
    "SELECT open_time, open, high, low, close, volume, trades, notional FROM candles "
    "WHERE exchange = ? AND symbol = ? AND period = ? ORDER BY open_time DESC LIMIT ?"
)
_OPEN_ROW = "SELECT * FROM open_candles WHERE exchange = ? AND symbol = ?"


def migrate_3_to_4(connection: sqlite3.Connection) -> None:
    """Candles of every instrument's trades (kept across restarts for a window). Tables
    already there are kept (a file whose version number was set back)."""
    for statement in SCHEMA_V4.split(";"):
        connection.execute(statement)


def _stored(candle: Candle) -> Candle | tuple[Any, ...]:
    """A candle as its row holds it (the quote volume as text past 64 bits)."""
    if candle[7] <= INT64_MAX:
        return candle
    return (*candle[:7], str(candle[7]))


class CandleStore:
    """Writes the candles of each committed batch's trades and reads them back."""

    def __init__(
        self, connection: sqlite3.Connection, instrument_at: Callable[[int], Instrument]
    ) -> None:
        self.connection = connection
        self._instrument_at = instrument_at
        self.book = CandleBook(self._load)

    def _open_row(self, instrument: Instrument) -> list[Candle | None]:
        """The instrument's newest candle of each interval, as stored."""
        row = self.connection.execute(
            _OPEN_ROW, (instrument.venue.name, instrument.symbol)
        ).fetchone()
        if row is None:
            return [None] * SERIES
        width = len(CANDLE_COLUMNS)
        found: list[Candle | None] = []
        for position in range(SERIES):
            values: tuple[Any, ...] = row[2 + position * width : 2 + (position + 1) * width]
            found.append(None if values[0] is None else [int(v) for v in values])
        return found

    def _load(self, index: int, position: int) -> Candle | None:
        return self._open_row(self._instrument_at(index))[position]

    def write(self, trades: Sequence[Trade]) -> Staged:
        """Store the candles of `trades` in the open transaction (`commit` once it is
        committed; if it is not, the book is unchanged)."""
        book = self.book
        staged = book.stage(trades)
        instrument_at = self._instrument_at
        current = staged.current
        connection = self.connection
        for index in {key // SERIES for key in current}:
            instrument = instrument_at(index)
            values: list[Any] = []
            for key in range(index * SERIES, (index + 1) * SERIES):
                candle = current.get(key) or book.newest(key)
                values.extend(NO_CANDLE if candle is None else _stored(candle))
            names = (instrument.venue.name, instrument.symbol)
            if connection.execute(_OPEN_UPDATE, (*values, *names)).rowcount == 0:
                connection.execute(_OPEN_NEW, (*names, *values))
        if staged.finished:
            finished = []
            for key, candle in staged.finished:
                index, position = divmod(key, SERIES)
                instrument = instrument_at(index)
                finished.append(
                    (instrument.venue.name, instrument.symbol, NAMES[position], *_stored(candle))
                )
            connection.executemany(_FINISHED, finished)
        if staged.opened:
            expired = []
            for key, start in staged.opened.items():
                index, position = divmod(key, SERIES)
                instrument = instrument_at(index)
                expired.append(
                    (instrument.venue.name, instrument.symbol, NAMES[position],
                     start - RETENTION_MICROS[position])
                )  # fmt: skip
            connection.executemany(_EXPIRE, expired)
        return staged

    def commit(self, staged: Staged) -> None:
        self.book.commit(staged)

    def forget(self) -> None:
        """The exchange's state was reloaded from the database: read the series again."""
        self.book.forget()

    def read(self, instrument: Instrument, interval: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` stored candles of `instrument` at `interval`, oldest first, as
        the candles route answers them: the finished ones, then the newest (which may still be
        in progress)."""
        newest = self._open_row(instrument)[NAMES.index(interval)]
        room = limit - (newest is not None)
        rows: list[Candle] = []
        if room > 0:
            found = self.connection.execute(
                _CLOSED, (instrument.venue.name, instrument.symbol, interval, room)
            ).fetchall()
            rows = [[int(value) for value in row] for row in reversed(found)]
        if newest is not None:
            rows.append(newest)
        return [candle_wire(instrument, row) for row in rows]
