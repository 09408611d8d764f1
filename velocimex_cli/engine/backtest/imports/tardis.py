"""Tardis.dev's downloadable CSV files (docs.tardis.dev, "Downloadable CSV files"), gzipped
(`.csv.gz`, as published) or not, as trade and book messages.

    trades:               exchange,symbol,timestamp,local_timestamp,id,side,price,amount
    incremental_book_L2:  exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount

Every file starts with that header. Times are microseconds since the epoch, UTC: `timestamp`
is the exchange's, `local_timestamp` when Tardis received the message. A recording's time is
the receive time, so an event's time is `local_timestamp` (the files are ordered by it) and the
message's `timestamp` is the exchange's.

trades: `side` is the aggressor's (buy, sell, or unknown where the exchange does not say; a
trade of unknown side is skipped and counted, as the backtest needs an aggressor).

incremental_book_L2: each row sets one price level to `amount` (0 removes it). The rows of one
exchange message share a `local_timestamp` and become one `book_delta`. Rows with is_snapshot
true are the initial book: the run of them becomes a `book_snapshot` (a new run, after rows
that were not a snapshot, is a new book: the stream reconnected). A group is cut every
MAX_GROUP levels (the rest of a long snapshot follows as deltas at the same time), so memory
stays bounded and no line exceeds the format's 1 MiB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from velocimex_cli.engine.backtest.imports.fields import (
    PLAIN_NUMBER,
    PLAIN_TEXT,
    POSITIVE_NUMBER,
    ImportProblem,
    SecondStamps,
    bad_field,
    cells,
    is_zero,
    number_text,
    plain_text,
)
from velocimex_cli.engine.backtest.imports.messages import (
    book_fields,
    change,
    instrument_symbol,
    known_on,
    known_split,
    level,
    trade_prefix,
)
from velocimex_cli.engine.backtest.imports.reader import BatchReader
from velocimex_cli.engine.backtest.imports.sources import Source

TRADES_HEADER = ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price",
                 "amount")  # fmt: skip
BOOK_HEADER = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side",
               "price", "amount")  # fmt: skip
MAX_GROUP = 5000  # levels in one book message (a snapshot of 10,000 levels is about 0.4 MiB)
LEAST_MICROS, MOST_MICROS = 10**14, 10**17  # 1973-03-03 .. 5138-11-16
_TIME = "[0-9]{15,17}"
# One row a line (MULTILINE; no class matches a newline): see binance.py.
_TRADE_ROW = re.compile(
    rf"^({PLAIN_TEXT}),({PLAIN_TEXT}),({_TIME}),({_TIME}),({PLAIN_TEXT}|),(buy|sell|unknown),"
    rf"({POSITIVE_NUMBER}),({POSITIVE_NUMBER})\r?$",
    re.MULTILINE,
)
_BOOK_ROW = re.compile(
    rf"({PLAIN_TEXT}),({PLAIN_TEXT}),({_TIME}),({_TIME}),(true|false),(bid|ask),"
    rf"({PLAIN_NUMBER}),({PLAIN_NUMBER})\r?"
)


def _stamp(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{fraction:06d}Z"


def _header_split(text: str, first: int) -> tuple[str, str, int]:
    head, _, rest = text.partition("\n")
    return head, rest, first + 1


class _TardisFile(BatchReader):
    """What both Tardis readers share: the header, the instrument of a row, the row's fields."""

    header: tuple[str, ...] = ()
    kind = ""

    def __init__(self, path: Path, exchange: str | None, symbol: str | None) -> None:
        self.exchange = None if exchange is None else exchange.strip().upper()
        self.symbol = None if symbol is None else instrument_symbol(symbol)
        self._names: dict[tuple[str, str], tuple[str, str]] = {}
        super().__init__(Source(path))

    def _check_header(self, text: str) -> None:
        if tuple(c.strip() for c in cells(text)) != self.header:
            raise ImportProblem(
                self.name,
                1,
                f"not a Tardis {self.kind} CSV: the first line must be the header "
                f"{','.join(self.header)}",
            )

    def _instrument(self, line: int, exchange: str, symbol: str) -> tuple[str, str]:
        """(the engine's exchange, its symbol) of a row's exchange and symbol."""
        venue = self.exchange or exchange.upper()
        if self.symbol is not None:
            named = self.symbol
        elif "-" in symbol or "/" in symbol:
            named = instrument_symbol(symbol)
        else:
            found = known_split(venue, symbol)
            if found is None:
                raise ImportProblem(
                    self.name,
                    line,
                    f"{symbol} is not an instrument vmx knows on {venue} (it knows "
                    f"{known_on(venue)}), so where its base asset ends and its quote begins "
                    "cannot be told: give --symbol BASE/QUOTE",
                    2,
                    "symbol",
                )
            named = found
        self.instruments[f"{venue}:{named}"] = None
        self._names[(exchange, symbol)] = (venue, named)
        return venue, named

    def _fields(self, line: int, text: str, choices: dict[int, tuple[str, ...]]) -> list[str]:
        """A row the fast pattern did not take, field by field (numbers in plain notation),
        or the error naming the field that is wrong and what it should be."""
        row = [c.strip() for c in cells(text)]
        if len(row) != len(self.header):
            raise ImportProblem(
                self.name,
                line,
                f"{len(row)} columns; a Tardis {self.kind} row has {len(self.header)}: "
                f"{','.join(self.header)}",
            )
        names = self.header
        for index in (0, 1):
            if not plain_text(row[index]):
                raise bad_field(self.name, line, index + 1, names[index], row[index], "a name")
        for index in (2, 3):
            value = row[index]
            if not (value.isascii() and value.isdigit() and len(value) <= 17) or not (
                LEAST_MICROS <= int(value) < MOST_MICROS
            ):
                raise bad_field(
                    self.name, line, index + 1, names[index], value,
                    "a time in microseconds since 1970 (16 digits)",
                )  # fmt: skip
        for index, allowed in choices.items():
            if allowed and row[index] not in allowed:
                raise bad_field(
                    self.name, line, index + 1, names[index], row[index], " or ".join(allowed)
                )
        for index, what in ((6, "a price"), (7, "an amount")):
            number = number_text(row[index])
            if number is None:
                raise bad_field(
                    self.name, line, index + 1, names[index], row[index],
                    f"{what} (a decimal number, at least 0)",
                )  # fmt: skip
            row[index] = number
        return row

    def _body_chunks(self) -> Iterator[tuple[int, str]]:
        """The source's chunks (first line, text) past the header line, checked first."""
        started = False
        for first, text in self.source.chunks():
            if not started:
                started = True
                head, text, first = _header_split(text, first)
                self._check_header(head)
            yield first, text

    def _back_in_time(self, line: int, value: str) -> ImportProblem:
        return ImportProblem(
            self.name,
            line,
            f"{value} is before the row above it: Tardis's files are ordered by "
            "local_timestamp (was the file edited or joined?)",
            4,
            "local_timestamp",
        )


class TardisTrades(_TardisFile):
    header = TRADES_HEADER
    kind = "trades"
    channels = ("trades",)

    def __init__(self, path: Path, exchange: str | None, symbol: str | None) -> None:
        super().__init__(path, exchange, symbol)
        self._prefixes: dict[tuple[str, str], str] = {}
        self._stamps = SecondStamps()

    def _format(self, times: list[int], items: list[Any], origin: int) -> list[str]:
        prefixes, stamps = self._prefixes, self._stamps
        return [
            f'{{"t":{(micros - origin) * 1000},"msg":{prefixes[row[0], row[1]]}{row[4]}",'
            f'"price":{row[6]},"quantity":{row[7]},"side":"{row[5]}","timestamp":"'
            f'{stamps[int(row[2]) // 1_000_000]}{int(row[2]) % 1_000_000:06d}Z"}}}}\n'
            for row, micros in zip(items, times, strict=True)
        ]

    def _parsed(self) -> Iterator[tuple[list[int], list[Any]]]:
        """The file's trades, a chunk at a time: (receive times in µs, the rows' fields)."""
        findall = _TRADE_ROW.findall
        prefixes = self._prefixes
        last = 0
        for first, text in self._body_chunks():
            rows = findall(text)
            if len(rows) != text.count("\n") + 1:
                rows = self._rows(first, text)
                if not rows:
                    continue
            times = [int(row[3]) for row in rows]
            if (
                times[0] < last
                or times != sorted(times)
                or not (times[0] >= LEAST_MICROS and times[-1] < MOST_MICROS)
            ):
                self._check_times(first, text, times, last)
            last = times[-1]
            for pair in {(row[0], row[1]) for row in rows}.difference(prefixes):
                line = first + next(i for i, row in enumerate(rows) if (row[0], row[1]) == pair)
                prefixes[pair] = trade_prefix(*self._instrument(line, *pair))
            kept = [(row, micros) for row, micros in zip(rows, times, strict=True)
                    if row[5] != "unknown"]  # fmt: skip
            self.skipped += len(rows) - len(kept)
            self.rows += len(kept)
            yield [micros for _, micros in kept], [row for row, _ in kept]

    def _rows(self, first: int, text: str) -> list[tuple[str, ...]]:
        """A chunk some line of which the pattern did not take: line by line, field by field
        where needed (blank lines skipped), or the error naming the field."""
        match = _TRADE_ROW.fullmatch
        rows: list[tuple[str, ...]] = []
        for offset, line in enumerate(text.split("\n")):
            found = match(line)
            if found is not None:
                rows.append(found.groups())
            elif line.strip():
                row = self._fields(first + offset, line, {5: ("buy", "sell", "unknown")})
                if row[4] and not plain_text(row[4]):
                    raise bad_field(self.name, first + offset, 5, "id", row[4], "a trade id")
                for index, name in ((6, "price"), (7, "amount")):
                    if row[5] != "unknown" and is_zero(row[index]):
                        raise ImportProblem(
                            self.name, first + offset, f"{row[index]} is zero; a trade's is "
                            "above 0", index + 1, name,
                        )  # fmt: skip
                rows.append(tuple(row))
        return rows

    def _check_times(self, first: int, text: str, times: list[int], last: int) -> None:
        numbers = [first + i for i, line in enumerate(text.split("\n")) if line.strip()]
        for line, value in zip(numbers, times, strict=False):
            if not LEAST_MICROS <= value < MOST_MICROS:
                raise bad_field(
                    self.name, line, 4, "local_timestamp", str(value),
                    "a time in microseconds since 1970 (16 digits)",
                )  # fmt: skip
            if value < last:
                raise self._back_in_time(line, str(value))
            last = value


class TardisBook(_TardisFile):
    header = BOOK_HEADER
    kind = "incremental_book_L2"
    channels = ("book",)

    def _parsed(self) -> Iterator[tuple[list[int], list[Any]]]:
        """The file's book messages, a chunk of rows at a time: (receive times in µs, texts)."""
        match = _BOOK_ROW.fullmatch
        last = 0
        sequences: dict[tuple[str, str], int] = {}
        in_snapshot: dict[tuple[str, str], bool] = {}
        # The group being gathered: its key (local time, exchange, symbol, is_snapshot), the
        # exchange time of its last row, and its levels.
        key: tuple[str, str, str, str] | None = None
        when = ""
        levels: list[tuple[str, str, str]] = []
        for first, text in self._body_chunks():
            times: list[int] = []
            bodies: list[str] = []
            for offset, line in enumerate(text.split("\n")):
                found = match(line)
                row: Sequence[str]
                if found is None:
                    if not line.strip():
                        continue
                    row = self._fields(
                        first + offset, line, {4: ("true", "false"), 5: ("bid", "ask")}
                    )
                else:
                    row = found.groups()
                exchange, symbol, stamp, local, snapshot, side, price, amount = row
                micros = int(local)
                if micros < last:
                    raise self._back_in_time(first + offset, local)
                if not LEAST_MICROS <= micros < MOST_MICROS:
                    self._fields(first + offset, line, {})
                last = micros
                if price[0] == "0" and is_zero(price):
                    raise ImportProblem(
                        self.name, first + offset, f"{price} is zero; a level's price is above 0",
                        7, "price",
                    )  # fmt: skip
                row_key = (local, exchange, symbol, snapshot)
                if row_key != key or len(levels) >= MAX_GROUP:
                    if key is not None:
                        moment, body = self._message(key, when, levels, sequences, in_snapshot)
                        times.append(moment)
                        bodies.append(body)
                    key = row_key
                    levels = []
                    if (exchange, symbol) not in self._names:
                        self._instrument(first + offset, exchange, symbol)
                when = stamp
                levels.append((side, price, amount))
                self.rows += 1
            if times:
                yield times, bodies
        if key is not None:
            moment, body = self._message(key, when, levels, sequences, in_snapshot)
            yield [moment], [body]

    def _message(
        self,
        key: tuple[str, str, str, str],
        when: str,
        levels: list[tuple[str, str, str]],
        sequences: dict[tuple[str, str], int],
        in_snapshot: dict[tuple[str, str], bool],
    ) -> tuple[int, str]:
        local, exchange, symbol, snapshot = key
        instrument = self._names[(exchange, symbol)]
        sequence = sequences[instrument] = sequences.get(instrument, 0) + 1
        head = f'{book_fields(*instrument)},"sequence":{sequence},"timestamp":"{_stamp(int(when))}"'
        fresh = snapshot == "true" and not in_snapshot.get(instrument, False)
        in_snapshot[instrument] = snapshot == "true"
        if fresh:
            bids = sorted(
                ((Decimal(p), p, q) for s, p, q in levels if s == "bid" and not is_zero(q)),
                reverse=True,
            )
            asks = sorted((Decimal(p), p, q) for s, p, q in levels if s == "ask" and not is_zero(q))
            body = (
                f'{{"type":"book_snapshot",{head},'
                f'"bids":[{",".join(level(p, q) for _, p, q in bids)}],'
                f'"asks":[{",".join(level(p, q) for _, p, q in asks)}]}}'
            )
        else:
            changes = ",".join(change(s, p, q) for s, p, q in levels)
            body = f'{{"type":"book_delta",{head},"changes":[{changes}]}}'
        return int(local), body
