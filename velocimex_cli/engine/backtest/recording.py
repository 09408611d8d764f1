"""Recordings of the market feed (`vmx stream market --record`, `vmx watch --record`) read into
backtest events.

An event's time is the message's receive time (the header's `started_at` plus `t`), so the
replay sees the market when the recorder did, latency included. Snapshots reset the book
(after a reconnect the stream starts again with one), deltas set levels, trades become the
tape's orders; a mirrored venue's `book_status` becomes a feed state (data.FeedState: while
not valid the replay trades as the live engine does on a halted feed, market.py); tickers,
order and connection messages carry nothing a replay needs.

The file is held to the format's bounds (wire/recording_format.py, docs/backtests.md): lines
of at most 1 MiB read without holding more, UTF-8 checked a line at a time, "t" never
decreasing and at most MAX_T_NS, prices and quantities within the engine's MAX_STEPS ticks
and lots. Each is an error naming the file, the line and what is wrong.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from velocimex_cli.engine.backtest.data import (
    BOOK,
    TRADE,
    DataError,
    Event,
    MarketData,
    is_feed_state,
)
from velocimex_cli.engine.backtest.market_messages import (
    BOOK_DELTA,
    MESSAGE_TYPES,
    PRINT,
    SKIPPED,
    typed_decoder,
)
from velocimex_cli.engine.backtest.recording_lines import GenericLines
from velocimex_cli.engine.backtest.terms import header_terms, instrument_on_terms
from velocimex_cli.engine.core.instruments import MAX_STEPS, Catalogue, Instrument, canonical_symbol
from velocimex_cli.engine.core.orders import BUY, NATIVE, SELL
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.recording_format import (
    FORMAT,
    MAX_LINE_BYTES,
    MAX_NUMBER_TEXT,
    MAX_T_NS,
    VERSION,
    LineProblem,
    line_text,
    long_line,
    not_utf8,
    number_in_range,
    out_of_range,
    read_line,
)
from velocimex_cli.wire.timefmt import parse_iso, to_micros

# The C core's reader of the typed lines (None: this module's loop reads them).
recording_events: Callable[..., bytes | None] | None = None
if NATIVE:
    from velocimex_cli.engine.core import _native

    recording_events = _native.recording_events


# The latest started_at: "t" can add MAX_T_NS and stay a date (year 9999 at the most).
_LATEST_ORIGIN = 7_000 * 366 * 86_400 * 1_000_000


class NumberOutOfRange(Exception):
    """A price or quantity the backtest cannot take (see _Steps)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _first_line(path: Path, handle: IO[bytes]) -> str:
    """The header line's text; DataError when it is too long or not UTF-8."""
    try:
        return line_text(read_line(handle))
    except LineProblem as exc:
        raise DataError(path, 1, f"{exc.problem}: not a vmx recording", exc.column) from None


def _header(path: Path, first: str) -> dict:
    try:
        value = jsonfmt.loads(first)
    except (ValueError, RecursionError) as exc:
        raise DataError(path, 1, f"not a vmx recording header ({exc})") from None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise DataError(path, 1, f'not a vmx recording (no "format": "{FORMAT}" header)')
    if value.get("version") != VERSION:
        raise DataError(
            path,
            1,
            f"recording format version {value.get('version')!r} is not supported "
            f"(this vmx reads version {VERSION})",
        )
    if value.get("stream", "market") != "market":
        raise DataError(path, 1, "a recording of the orders stream has no market data to replay")
    header_terms(path, value)  # the instruments' terms, when given, are held to the bounds
    return value


def recording_header(path: Path) -> dict | None:
    """The header of a recording (checked, terms included); None for a file that is not one
    (it does not start with "{": a CSV of trades)."""
    with _open(path) as handle:
        if handle.read(1) != b"{":
            return None
        handle.seek(0)
        return _header(path, _first_line(path, handle))


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InvalidParameter("data", str(path), f"cannot read {path}: {exc.strerror}") from None


class _Steps(dict):
    """A number (its JSON text, an int, or a Decimal) -> whole ticks (or lots), computed once
    per distinct number: a market repeats its prices and sizes, and the division is most of a
    level's cost. `off_grid` says whether any number was not a whole count of steps.

    A number out of range (NaN, an infinity, more than MAX_NUMBER_TEXT characters, beyond
    1e+-30, or more than MAX_STEPS steps; below `least` steps) raises NumberOutOfRange naming
    `field`: it is checked here, once per distinct number, so neither reader pays per line."""

    def __init__(
        self, convert: Callable[[Decimal], int | None], field: str, least: int, most: Decimal
    ) -> None:
        super().__init__()
        self.convert = convert
        self.field = field
        self.least = least
        self.most = most
        self.off_grid = False

    def __missing__(self, number: object) -> int | None:
        if len(self) > 100_000:
            self.clear()
        steps = self[number] = self._steps(number)
        if steps is None:
            self.off_grid = True
        return steps

    def _steps(self, number: object) -> int | None:
        text = str(number)
        if len(text) > MAX_NUMBER_TEXT:
            raise NumberOutOfRange(out_of_range(self.field, text))
        try:
            value = Decimal(number)  # type: ignore[arg-type]  # JSON number text, int or Decimal
        except ArithmeticError:  # text no JSON number has
            raise NumberOutOfRange(out_of_range(self.field, text)) from None
        if not number_in_range(value):
            raise NumberOutOfRange(out_of_range(self.field, text))
        steps = self.convert(value)
        if steps is not None and not self.least <= steps <= MAX_STEPS:
            least = "above 0" if self.least else "0 or more"
            raise NumberOutOfRange(
                f"{self.field} {text} is out of range: the backtest takes a {self.field} "
                f"{least} and at most {self.most}"
            )
        return steps

    def get(self, number: object) -> int | None:  # type: ignore[override]  # no default: a cache
        try:
            return self[number]
        except TypeError:  # an unhashable value: not a number
            self.off_grid = True
            return None


def recorded_instruments(path: Path) -> list[tuple[str, str]]:
    """The instruments a recording's header names (or, when it names none, its first
    market messages name)."""
    with _open(path) as handle:
        header = _header(path, _first_line(path, handle))
        listed = header.get("instruments")
        if isinstance(listed, list) and listed:
            found = []
            for item in listed:
                exchange, _, symbol = str(item).partition(":")
                found.append((exchange, symbol))
            return found
        seen: dict[tuple[Any, Any], None] = {}  # as the messages spell them
        for _ in range(10_000):
            try:
                line = line_text(read_line(handle))
            except LineProblem:  # the read says what is wrong with it
                break
            if not line:
                break
            try:
                msg = jsonfmt.loads(line).get("msg") or {}
            except (ValueError, AttributeError, RecursionError):
                continue
            if msg.get("type") in ("book_snapshot", "book_delta", "trade"):
                seen[(msg.get("exchange"), msg.get("symbol"))] = None
        return list(seen)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused (and restored): a read allocates millions of
    tuples that hold no cycles, and each collection would only walk the growing list of them
    again (a quarter of a read's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_recording(path: Path, instrument: Instrument, recorded: bool = False) -> MarketData:
    """The recording's events for `instrument`, in integer ticks and lots (`recorded`: it is
    the one on the terms the header gives, and the data says so).

    Each line is first decoded into the typed market messages (market_messages.py); a line
    that does not fit them is read again with the generic decoder (recording_lines.py), which
    skips what a replay ignores and says what is wrong with the rest. With the C core, the
    typed lines are read in C (`_native.recording_events`, recording.c, which this loop is the
    reference of): it hands back to this loop each line it does not take.
    """
    events: list[Event] = []
    append = events.append
    exchange, symbol = instrument.venue.name, instrument.symbol
    most_price, most_quantity = instrument.price_of(MAX_STEPS), instrument.quantity_of(MAX_STEPS)
    ticks = _Steps(instrument.ticks_of, "price", 1, most_price)
    lots = _Steps(instrument.lots_of, "quantity", 0, most_quantity)
    typed = typed_decoder()
    fast = recording_events
    state: list = [1, 0, None, None]  # the last line read, its t, the first and last trade price
    limit = MAX_LINE_BYTES + 1  # what a read asks for: one byte more says the line is too long
    with _open(path) as handle, _no_cycle_collection():
        header = _header(path, _first_line(path, handle))
        started = header.get("started_at")
        try:
            origin = to_micros(parse_iso(started))  # type: ignore[arg-type]  # not a str: TypeError, below
        except (TypeError, ValueError):
            raise DataError(path, 1, f"header started_at {started!r} is not a UTC time") from None
        if origin > _LATEST_ORIGIN:
            raise DataError(path, 1, f"header started_at {started!r} is too far in the future")
        generic = GenericLines(path, origin, exchange, symbol, ticks.get, lots.get)
        readline = handle.readline
        try:
            while True:
                if fast is not None:
                    raw = fast(
                        readline, limit, MAX_T_NS, typed, MESSAGE_TYPES, exchange, symbol,
                        origin, ticks, lots, events, state,
                    )  # fmt: skip
                    if raw is None:
                        break
                else:
                    raw = readline(limit)
                    if not raw:
                        break
                    state[0] += 1
                if len(raw) > MAX_LINE_BYTES and raw[-1:] != b"\n":
                    problem = long_line()
                    raise DataError(path, state[0], problem.problem, problem.column)
                try:
                    text = raw.decode()
                except UnicodeDecodeError as exc:
                    problem = not_utf8(raw, exc)
                    raise DataError(path, state[0], problem.problem, problem.column) from None
                last_t = state[1]
                price = None
                try:
                    entry = typed(text)
                    t = entry.t
                    if t < last_t or t > MAX_T_NS:
                        raise ValueError("time goes backwards or too far")
                    msg = entry.msg
                    kind = msg.kind
                    event: Event | None
                    if kind == SKIPPED or msg.exchange != exchange or msg.symbol != symbol:
                        event = None
                    elif kind == BOOK_DELTA:
                        bids: list[tuple[int, int]] = []
                        asks: list[tuple[int, int]] = []
                        for change in msg.changes:
                            (bids if change.side == "bid" else asks).append(
                                (ticks[change.price], lots[change.quantity])
                            )
                        event = (origin + t // 1000, BOOK, False, tuple(bids), tuple(asks))
                    elif kind == PRINT:
                        price = msg.price
                        event = (
                            origin + t // 1000,
                            TRADE,
                            BUY if msg.side == "buy" else SELL,
                            ticks[price],
                            lots[msg.quantity],
                        )
                    else:
                        event = (
                            origin + t // 1000,
                            BOOK,
                            True,
                            tuple((ticks[v.price], lots[v.quantity]) for v in msg.bids),
                            tuple((ticks[v.price], lots[v.quantity]) for v in msg.asks),
                        )
                except (ValueError, TypeError, ArithmeticError):
                    read = generic.read(text, state[0], last_t)
                    if read is None:
                        continue
                    t, event, price = read
                if price is not None:
                    if state[2] is None:
                        state[2] = price
                    state[3] = price
                state[1] = t
                if event is not None:
                    append(event)
        except NumberOutOfRange as exc:
            raise DataError(path, state[0], exc.problem) from None
        except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise DataError(
                path, state[0], f"a market message lacks a field or a number ({exc!r})"
            ) from None
    if ticks.off_grid or lots.off_grid:
        raise DataError(path, 0, f"a price or quantity is off {instrument.key}'s tick or lot grid")
    if not events:
        raise DataError(path, state[0], f"no book or trade messages for {instrument.key}")
    return MarketData(
        events, _number(state[2]), _number(state[3]), instrument if recorded else None
    )


def _number(value: object) -> Decimal | None:
    """A recorded price as a Decimal (the typed decoder leaves a float literal as its text)."""
    return None if value is None else Decimal(value)  # type: ignore[arg-type]  # text or number


def book_state_at(events: list[Event]) -> Event | None:
    """The book at the end of `events` as one snapshot event (None when there was no book)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    seen = False
    stamp = 0
    for event in events:
        if event[1] != BOOK or is_feed_state(event):
            continue
        seen = True
        stamp = event[0]
        if event[2]:
            bids.clear()
            asks.clear()
        for ticks, lots in event[3]:
            if lots:
                bids[ticks] = lots
            else:
                bids.pop(ticks, None)
        for ticks, lots in event[4]:
            if lots:
                asks[ticks] = lots
            else:
                asks.pop(ticks, None)
    if not seen:
        return None
    return (
        stamp,
        BOOK,
        True,
        tuple(sorted(bids.items(), reverse=True)),
        tuple(sorted(asks.items())),
    )


def feed_state_at(events: list[Event]) -> Event | None:
    """The recorded feed's state at the end of `events` as a feed state event when it was not
    valid then (a book_status not valid and no snapshot after it); None when it was."""
    for event in reversed(events):
        if event[1] != BOOK or not event[2]:
            continue
        if is_feed_state(event):
            return None if event[2].valid else event
        return None  # a snapshot: the book was whole again
    return None


def recorded_instrument(path: Path, exchange: str, symbol: str) -> Instrument | None:
    """The instrument on the terms `path`'s header gives for EXCHANGE:SYMBOL; None when it is
    not a recording or gives none for it (the catalogue's terms apply)."""
    header = recording_header(path)
    if header is None:
        return None
    terms = header_terms(path, header).get(f"{exchange.strip().upper()}:{canonical_symbol(symbol)}")
    return None if terms is None else instrument_on_terms(path, terms)


def data_instrument(path: Path | None, exchange: str, symbol: str) -> Instrument:
    """What a backtest of `path` (None: the simulator) trades: the recorded terms, else the
    catalogue's instrument (InvalidParameter naming what it lists when it has none)."""
    if path is not None:
        recorded = recorded_instrument(path, exchange, symbol)
        if recorded is not None:
            return recorded
    return Catalogue().find(exchange, symbol)


__all__ = [
    "book_state_at",
    "data_instrument",
    "feed_state_at",
    "read_recording",
    "recorded_instrument",
    "recorded_instruments",
    "recording_header",
]
