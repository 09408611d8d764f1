"""Market data a backtest replays: a CSV of trades, or a recording of the live feed.

Both are read into one compact event form, in the instrument's integer ticks and lots, so the
replay loop does no decimal parsing:

    (timestamp_micros, TRADE, side, ticks, lots)
    (timestamp_micros, BOOK, reset, bids, asks)   reset=True for a snapshot; bids/asks are
                                                  tuples of (ticks, lots), lots 0 = level gone
    (timestamp_micros, BOOK, FeedState, (), ())   a mirrored venue's feed state, as a
                                                  recording's `book_status` said it

A feed state rides on a BOOK event (its `reset` a FeedState, never False) so that the replay
loop tells book changes from trades as before and the state costs nothing but on snapshots
(market.py's `MarketReplay.book` looks at a true `reset` only).

A malformed file is an `InvalidParameter` naming the file, the line and what is wrong, raised
before anything runs.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, NamedTuple

from velocimex_cli.engine.core.instruments import MAX_STEPS, Instrument
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import MAX_NUMBER_TEXT, parse_decimal
from velocimex_cli.wire.recording_format import LineProblem, line_text, read_line

TRADE = 0
BOOK = 1

Event = tuple

CSV_COLUMNS = ("timestamp", "price", "quantity", "side")
SIDES = {"buy": BUY, "sell": SELL, "b": BUY, "s": SELL}


class FeedState(NamedTuple):
    """A recorded `book_status` (wire/streams.book_status_message): while `valid` is False
    the recorded book was not the venue's (its feed was down or resyncing, `reason` says why),
    until the next snapshot (or a `book_status` valid again)."""

    valid: bool
    reason: str | None


def is_feed_state(event: Event) -> bool:
    """Is this BOOK event a feed state rather than a book change?"""
    return type(event[2]) is FeedState


class DataError(InvalidParameter):
    """A data file's problem at a line (and a column, in bytes from 1, when one is known)."""

    def __init__(self, path: Path, line: int, problem: str, column: int = 0) -> None:
        where = f"{path}, line {line}, column {column}" if column else f"{path}, line {line}"
        super().__init__("data", str(path), f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class MarketData:
    """The events of one instrument, in time order, with what the report needs about them."""

    events: list[Event]
    first_price: Decimal | None
    last_price: Decimal | None
    # The instrument on the terms a recording's header gave (its ticks and lots are the
    # events'); None: the catalogue's instrument of the same name.
    instrument: Instrument | None = None

    @property
    def trades_only(self) -> bool:
        """No book in the data (a CSV of trades): the replay makes a market around each print.
        A recording starts with a snapshot, so its first events say."""
        return not any(e[1] == BOOK for e in self.events[:1000])

    @property
    def start(self) -> int:
        return self.events[0][0] if self.events else 0

    @property
    def end(self) -> int:
        return self.events[-1][0] if self.events else 0


_YEAR_10000 = 253_402_300_800 * 1_000_000  # microseconds: later is no date


def parse_timestamp(text: str) -> int | None:
    """ISO-8601 (Z or an offset; naive means UTC) or epoch seconds, to UTC microseconds."""
    text = text.strip()
    if not text or not text.isascii():
        return None
    if text.replace(".", "", 1).isdigit():
        if len(text) > MAX_NUMBER_TEXT:
            return None
        try:
            micros = int(Decimal(text) * 1_000_000)
        except InvalidOperation:
            return None
        return micros if micros < _YEAR_10000 else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _steps(
    path: Path, line: int, instrument: Instrument, price: Decimal, quantity: Decimal
) -> tuple[int, int]:
    ticks = instrument.ticks_of(price)
    lots = instrument.lots_of(quantity)
    if ticks is not None and ticks > MAX_STEPS:
        raise DataError(
            path, line, f"price {price} is out of range: at most {instrument.price_of(MAX_STEPS)}"
        )
    if lots is not None and lots > MAX_STEPS:
        raise DataError(
            path,
            line,
            f"quantity {quantity} is out of range: at most {instrument.quantity_of(MAX_STEPS)}",
        )
    if ticks is None or ticks <= 0:
        raise DataError(
            path,
            line,
            f"price {price} is not a positive multiple of {instrument.key}'s tick "
            f"{instrument.tick_size}",
        )
    if lots is None or lots < 0:
        raise DataError(
            path,
            line,
            f"quantity {quantity} is not a multiple of {instrument.key}'s lot "
            f"{instrument.lot_size}",
        )
    return ticks, lots


def _text_lines(path: Path, handle: IO[bytes]) -> Iterator[str]:
    """A data file's lines as text, each at most MAX_LINE_BYTES and checked to be UTF-8 (a
    DataError names the line otherwise): what the csv reader reads."""
    line = 0
    while raw := read_line(handle):
        line += 1
        try:
            yield line_text(raw)
        except LineProblem as exc:
            raise DataError(path, line, exc.problem, exc.column) from None


def check_first_line(path: Path) -> None:
    """The first line held to the bounds (at most MAX_LINE_BYTES, UTF-8) before anything reads
    the whole file (its hash): a file of one endless line is refused at once."""
    try:
        with path.open("rb") as handle:
            next(_text_lines(path, handle), None)
    except OSError as exc:
        raise InvalidParameter("data", str(path), f"cannot read {path}: {exc.strerror}") from None


def read_trades_csv(path: Path, instrument: Instrument) -> MarketData:
    """A CSV of trades: timestamp, price, quantity, side (the aggressor's: buy or sell).

    The header row is required (columns in any order; others ignored). Timestamps must not go
    backwards.
    """
    events: list[Event] = []
    first = last = None
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidParameter("data", str(path), f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(_text_lines(path, handle))
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(path, 1, f"not a CSV file ({exc})") from exc
        if header is None:
            raise DataError(
                path, 1, "the file is empty; expected a header timestamp,price,quantity,side"
            )
        names = [h.strip().lower() for h in header]
        missing = [c for c in CSV_COLUMNS if c not in names]
        if missing:
            raise DataError(
                path,
                1,
                f"the header lacks {', '.join(missing)}; expected columns "
                "timestamp,price,quantity,side",
            )
        at = {c: names.index(c) for c in CSV_COLUMNS}
        previous = None
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < len(names):
                    raise DataError(path, line, f"{len(row)} columns; the header has {len(names)}")
                stamp = parse_timestamp(row[at["timestamp"]])
                if stamp is None:
                    raise DataError(
                        path,
                        line,
                        f"timestamp {row[at['timestamp']]!r} is not ISO-8601 or epoch seconds "
                        "before the year 10000",
                    )
                if previous is not None and stamp < previous:
                    raise DataError(path, line, "timestamps go backwards; sort the file by time")
                previous = stamp
                price = parse_decimal(row[at["price"]])
                if price is None or price <= 0:
                    raise DataError(
                        path, line, f"price {row[at['price']]!r} is not a positive number"
                    )
                quantity = parse_decimal(row[at["quantity"]])
                if quantity is None or quantity <= 0:
                    raise DataError(
                        path, line, f"quantity {row[at['quantity']]!r} is not a positive number"
                    )
                side = SIDES.get(row[at["side"]].strip().lower())
                if side is None:
                    raise DataError(path, line, f"side {row[at['side']]!r} is not buy or sell")
                ticks, lots = _steps(path, line, instrument, price, quantity)
                if lots == 0:
                    raise DataError(path, line, f"quantity {quantity} is below one lot")
                events.append((stamp, TRADE, side, ticks, lots))
                if first is None:
                    first = price
                last = price
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(path, reader.line_num, f"not a CSV file ({exc})") from exc
    if not events:
        raise DataError(path, 2, "no trades after the header")
    return MarketData(events, first, last)
