"""Market data a backtest replays: a CSV of trades, or a recording of the live feed.

Both are read into one compact event form, in the instrument's integer ticks and lots, so the
replay loop does no decimal parsing:

    (timestamp_micros, TRADE, side, ticks, lots)
    (timestamp_micros, BOOK, reset, bids, asks)   reset=True for a snapshot; bids/asks are
                                                  tuples of (ticks, lots), lots 0 = level gone

A malformed file is an `InvalidParameter` naming the file, the line and what is wrong, raised
before anything runs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal

TRADE = 0
BOOK = 1

Event = tuple

CSV_COLUMNS = ("timestamp", "price", "quantity", "side")
SIDES = {"buy": BUY, "sell": SELL, "b": BUY, "s": SELL}


class DataError(InvalidParameter):
    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__("data", str(path), f"{path}, line {line}: {problem}")


@dataclass(frozen=True, slots=True)
class MarketData:
    """The events of one instrument, in time order, with what the report needs about them."""

    events: list[Event]
    first_price: Decimal | None
    last_price: Decimal | None

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


def parse_timestamp(text: str) -> int | None:
    """ISO-8601 (Z or an offset; naive means UTC) or epoch seconds, to UTC microseconds."""
    text = text.strip()
    if not text or not text.isascii():
        return None
    if text.replace(".", "", 1).isdigit():
        try:
            return int(Decimal(text) * 1_000_000)
        except InvalidOperation:
            return None
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


def read_trades_csv(path: Path, instrument: Instrument) -> MarketData:
    """A CSV of trades: timestamp, price, quantity, side (the aggressor's: buy or sell).

    The header row is required (columns in any order; others ignored). Timestamps must not go
    backwards.
    """
    events: list[Event] = []
    first = last = None
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InvalidParameter("data", str(path), f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
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
                        f"timestamp {row[at['timestamp']]!r} is not ISO-8601 or epoch seconds",
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
