"""Binance's public trade files (data.binance.vision) as trade messages.

    BTCUSDT-trades-2026-09-01.zip     (or the .csv inside; monthly: BTCUSDT-trades-2026-09.zip)
        trades:    id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch
    BTCUSDT-aggTrades-2026-09-01.zip
        aggTrades: aggTradeId, price, qty, firstTradeId, lastTradeId, time, isBuyerMaker,
                   isBestMatch

Spot files have no header; futures files have one (snake_case names) and no isBestMatch
column. `time` is in milliseconds since the epoch, except in spot files from 2025 on, which
carry microseconds: the unit is told per file from its first row's value (a millisecond time
has 13 digits until the year 2286, a microsecond time 16), never from a date, and every row of
the file must be in that unit.

isBuyerMaker true means the buyer's order rested and the seller took it: the aggressor sold,
so the trade's `side` (the aggressor's, as in vmx's stream) is "sell"; false is "buy".

The file name gives the exchange (BINANCE) and the symbol where it follows the publisher's
naming; BTCUSDT is split into BTC/USDT by the engine's instruments (`--symbol` for others).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from velocimex_cli.engine.backtest.imports.fields import (
    POSITIVE_NUMBER,
    ImportProblem,
    SecondStamps,
    bad_field,
    cells,
    is_zero,
    number_text,
)
from velocimex_cli.engine.backtest.imports.messages import (
    instrument_symbol,
    known_on,
    known_split,
    trade_prefix,
)
from velocimex_cli.engine.backtest.imports.reader import BatchReader
from velocimex_cli.engine.backtest.imports.sources import Source

EXCHANGE = "BINANCE"
FILE_NAME = re.compile(
    r"(?P<symbol>[A-Z0-9]{2,30})-(?P<kind>trades|aggTrades)-(?P<date>\d{4}-\d{2}(?:-\d{2})?)"
    r"\.(?:csv|zip)"
)
# The columns of each kind, with the spellings of the spot docs and of the futures headers.
COLUMNS = {
    "trades": (
        ("id",),
        ("price",),
        ("qty", "quantity"),
        ("quoteqty",),
        ("time",),
        ("isbuyermaker",),
        ("isbestmatch",),
    ),
    "aggTrades": (
        ("aggtradeid",),
        ("price",),
        ("qty", "quantity"),
        ("firsttradeid",),
        ("lasttradeid",),
        ("time", "transacttime"),
        ("isbuyermaker",),
        ("isbestmatch",),
    ),
}
# The names the publisher's docs give the columns (error messages name a column so).
NAMES = {
    "trades": ("id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"),
    "aggTrades": ("aggTradeId", "price", "qty", "firstTradeId", "lastTradeId", "time",
                  "isBuyerMaker", "isBestMatch"),
}  # fmt: skip
TIME_COLUMN = {"trades": 4, "aggTrades": 5}  # 0-based
_BOOL = "true|false|True|False|TRUE|FALSE"
# One row a line (MULTILINE: ^ and $ at each line; no class matches a newline), so that the
# rows found in a chunk are its lines exactly when there are as many as lines.
_ROWS = {
    "trades": re.compile(
        rf"^([0-9]{{1,20}}+),({POSITIVE_NUMBER}),({POSITIVE_NUMBER}),[^,\n]*+,([0-9]{{1,20}}+),"
        rf"({_BOOL})(?:,(?:{_BOOL}))?+\r?$",
        re.MULTILINE,
    ),
    "aggTrades": re.compile(
        rf"^([0-9]{{1,20}}+),({POSITIVE_NUMBER}),({POSITIVE_NUMBER}),[0-9]{{0,20}}+,[0-9]{{0,20}}+,"
        rf"([0-9]{{1,20}}+),({_BOOL})(?:,(?:{_BOOL}))?+\r?$",
        re.MULTILINE,
    ),
}
# The aggressor's side: isBuyerMaker true means the seller took the buyer's resting order.
AGGRESSOR = {"true": "sell", "True": "sell", "TRUE": "sell",
             "false": "buy", "False": "buy", "FALSE": "buy"}  # fmt: skip
# The message's text from its side to its timestamp's opening quote, per isBuyerMaker text.
SIDE_THEN_TIME = {maker: f'"side":"{side}","timestamp":"' for maker, side in AGGRESSOR.items()}
_TIME_FIELD = itemgetter(3)  # of a row's fields as the patterns capture them
# A time's unit, told by its value: (microseconds per unit, least, most) of each.
MILLISECONDS = (1000, 10**11, 10**14)  # 1973-03-03 .. 5138-11-16
MICROSECONDS = (1, 10**14, 10**17)


def unit_of(value: int) -> tuple[int, int, int] | None:
    for unit in (MILLISECONDS, MICROSECONDS):
        if unit[1] <= value < unit[2]:
            return unit
    return None


def unit_name(unit: tuple[int, int, int]) -> str:
    return "milliseconds" if unit is MILLISECONDS else "microseconds"


def instrument_of(
    path: Path, kind: str, exchange: str | None, symbol: str | None
) -> tuple[str, str]:
    """(exchange, symbol) of a file: the flags, else its name."""
    named = FILE_NAME.fullmatch(path.name)
    if named is not None and named["kind"] != kind:
        other = "binance-aggtrades" if named["kind"] == "aggTrades" else "binance-trades"
        raise ImportProblem(
            str(path),
            0,
            f"the file name says it holds {named['kind']}, not {kind}: import it with "
            f"--format {other}",
        )
    venue = (exchange or EXCHANGE).strip().upper()
    if symbol is not None:
        return venue, instrument_symbol(symbol)
    if named is None:
        raise ImportProblem(
            str(path),
            0,
            f"the file name does not follow Binance's naming (SYMBOL-{kind}-DATE.zip or .csv), "
            "so it does not say the instrument: give --symbol BASE/QUOTE (and --exchange)",
        )
    found = known_split(venue, named["symbol"])
    if found is None:
        raise ImportProblem(
            str(path),
            0,
            f"{named['symbol']} is not an instrument vmx knows on {venue} (it knows "
            f"{known_on(venue)}), so where its base asset ends and its quote begins cannot be "
            "told: give --symbol BASE/QUOTE",
        )
    return venue, found


class BinanceTrades(BatchReader):
    """One Binance trades or aggTrades file read as trade messages."""

    channels = ("trades",)

    def __init__(self, path: Path, kind: str, exchange: str | None, symbol: str | None) -> None:
        self.kind = kind
        self.exchange, self.symbol = instrument_of(path, kind, exchange, symbol)
        super().__init__(Source(path))
        self.instruments = {f"{self.exchange}:{self.symbol}": None}
        self.unit: tuple[int, int, int] | None = None
        self._prefix = trade_prefix(self.exchange, self.symbol)
        self._stamps = SecondStamps()

    def _format(self, times: list[int], items: list[Any], origin: int) -> list[str]:
        # The ISO time is cut from the time's own digits: its seconds (looked up, formatted
        # once per second) and its fraction (ms: three digits and 000; µs: six).
        prefix, stamps = self._prefix, self._stamps
        cut = 3 if self.unit is MILLISECONDS else 6
        pad = "000" if cut == 3 else ""
        return [
            f'{{"t":{(micros - origin) * 1000},"msg":{prefix}{trade_id}","price":{price},'
            f'"quantity":{quantity},{SIDE_THEN_TIME[maker]}{stamps[when[:-cut]]}{when[-cut:]}'
            f'{pad}Z"}}}}\n'
            for (trade_id, price, quantity, when, maker), micros in zip(items, times)  # noqa: B905
        ]

    def _parsed(self) -> Iterator[tuple[list[int], list[Any]]]:
        """The file's rows, a chunk at a time: (times in µs, the rows' fields)."""
        findall = _ROWS[self.kind].findall
        last = 0
        header_checked = False
        for first, text in self.source.chunks():
            if not header_checked:
                header_checked = True
                head, _, rest = text.partition("\n")
                if head and not head.split(",", 1)[0].isdigit():
                    self._header(head)
                    text, first = rest, first + 1
            rows = findall(text)
            if len(rows) != text.count("\n") + 1:
                rows = self._rows(first, text)
                if not rows:
                    continue
            values = list(map(int, map(_TIME_FIELD, rows)))
            unit = self.unit
            if (
                unit is None
                or values[0] * unit[0] < last
                or not (unit[1] <= values[0] and values[-1] < unit[2])
                or values != sorted(values)
            ):
                self._check_times(first, text, values, last)
                unit = self.unit
                assert unit is not None
            scale = unit[0]
            times = values if scale == 1 else list(map(scale.__mul__, values))
            last = times[-1]
            self.rows += len(rows)
            yield times, rows

    def _rows(self, first: int, text: str) -> list[tuple[str, ...]]:
        """The rows of a chunk some line of which the pattern did not take: line by line,
        read field by field where needed (blank lines skipped), or the error."""
        match = _ROWS[self.kind].fullmatch
        rows: list[tuple[str, ...]] = []
        for offset, line in enumerate(text.split("\n")):
            found = match(line)
            if found is not None:
                rows.append(found.groups())
            elif line.strip():
                rows.append(self._row(first + offset, line))
        return rows

    def _check_times(self, first: int, text: str, values: list[int], last: int) -> None:
        """Sets the file's unit from its first time; the error naming the first row whose
        time is in another unit, not a time, or before the row above it."""
        numbers = [first + i for i, line in enumerate(text.split("\n")) if line.strip()]
        for line, value in zip(numbers, values, strict=False):
            if self.unit is None:
                self.unit = unit_of(value)
            unit = self.unit
            if unit is None or not unit[1] <= value < unit[2]:
                raise self._bad_time(line, str(value), unit)
            if value * unit[0] < last:
                raise ImportProblem(
                    self.name,
                    line,
                    f"{value} is before the row above it: the file is not in time order "
                    "(Binance's files are; was it edited or joined?)",
                    TIME_COLUMN[self.kind] + 1,
                    "time",
                )
            last = value * unit[0]

    def _header(self, text: str) -> None:
        names = [c.strip().lower().replace("_", "") for c in cells(text)]
        columns = COLUMNS[self.kind]
        if len(names) in (len(columns), len(columns) - 1) and all(
            n in columns[i] for i, n in enumerate(names)
        ):
            return
        expected = ",".join(NAMES[self.kind])
        raise ImportProblem(
            self.name,
            1,
            f"not a Binance {self.kind} file: the first line is neither a row of numbers nor "
            f"the header {expected} (futures spell it in snake_case)",
        )

    def _row(self, line: int, text: str) -> tuple[str, str, str, str, str]:
        """A row the fast pattern did not take: read field by field, or the error that says
        which field is wrong and what it should be."""
        columns = COLUMNS[self.kind]
        row = [c.strip() for c in cells(text)]
        if len(row) not in (len(columns), len(columns) - 1):
            raise ImportProblem(
                self.name,
                line,
                f"{len(row)} columns; a Binance {self.kind} row has {len(columns)} (spot) or "
                f"{len(columns) - 1} (futures): {','.join(NAMES[self.kind])}",
            )
        names = NAMES[self.kind]
        if not row[0].isascii() or not row[0].isdigit() or len(row[0]) > 20:
            raise bad_field(self.name, line, 1, names[0], row[0], "a trade id (digits)")
        numbers = []
        for index, what in ((1, "a price"), (2, "a quantity")):
            value = number_text(row[index])
            if value is None:
                raise bad_field(
                    self.name,
                    line,
                    index + 1,
                    names[index],
                    row[index],
                    f"{what} (a decimal number such as 60013.81000000, at least 0)",
                )
            numbers.append(value)
        at = TIME_COLUMN[self.kind]
        when = row[at]
        if not when.isascii() or not when.isdigit() or len(when) > 20:
            raise bad_field(
                self.name,
                line,
                at + 1,
                names[at],
                when,
                "a time (whole milliseconds or microseconds since 1970)",
            )
        maker = row[at + 1]
        if maker.lower() not in ("true", "false"):
            raise bad_field(self.name, line, at + 2, names[at + 1], maker, "true or false")
        for index, value in ((1, numbers[0]), (2, numbers[1])):
            if is_zero(value):
                raise ImportProblem(
                    self.name, line, f"{row[index]} is zero; a trade's is above 0", index + 1,
                    names[index],
                )  # fmt: skip
        return row[0], numbers[0], numbers[1], when, maker.lower()

    def _bad_time(self, line: int, when: str, unit: tuple[int, int, int] | None) -> ImportProblem:
        column = TIME_COLUMN[self.kind] + 1
        found = unit_of(int(when))
        if unit is not None and found is not None:
            problem = (
                f"{when} is in {unit_name(found)}, but this file's first row is in "
                f"{unit_name(unit)}: a file keeps one unit (two files joined?)"
            )
        else:
            problem = (
                f"{when} is not a time: expected milliseconds (13 digits) or microseconds "
                "(16 digits) since 1970"
            )
        return ImportProblem(self.name, line, problem, column, "time")
