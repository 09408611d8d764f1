"""Recordings of the market feed (`vmx stream market --record`, `vmx watch --record`) read into
backtest events.

An event's time is the message's receive time (the header's `started_at` plus `t`), so the
replay sees the market when the recorder did, latency included. Snapshots reset the book
(after a reconnect the stream starts again with one), deltas set levels, trades become the
tape's orders; tickers, order and connection messages carry nothing a replay needs.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from velocimex_cli.engine.backtest.data import BOOK, TRADE, DataError, Event, MarketData
from velocimex_cli.engine.backtest.market_messages import (
    BOOK_DELTA,
    MESSAGE_TYPES,
    PRINT,
    SKIPPED,
    typed_decoder,
)
from velocimex_cli.engine.core.instruments import Instrument
from velocimex_cli.engine.core.orders import BUY, NATIVE, SELL
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.decoding import decoder
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.recording_format import FORMAT, VERSION
from velocimex_cli.wire.timefmt import parse_iso, to_micros

if NATIVE:  # the C core reads the typed lines
    from velocimex_cli.engine.core._native import recording_events
else:
    recording_events = None


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
    return value


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidParameter("data", str(path), f"cannot read {path}: {exc.strerror}") from None


class _Steps(dict):
    """A number (its JSON text, an int, or a Decimal) -> whole ticks (or lots), computed once
    per distinct number: a market repeats its prices and sizes, and the division is most of a
    level's cost. `off_grid` says whether any number was not a whole count of steps."""

    def __init__(self, convert: Callable[[Decimal], int | None]) -> None:
        super().__init__()
        self.convert = convert
        self.off_grid = False

    def __missing__(self, number: object) -> int | None:
        if len(self) > 100_000:
            self.clear()
        steps = self[number] = self.convert(Decimal(number))  # type: ignore[arg-type]
        if steps is None:
            self.off_grid = True
        return steps

    def get(self, number: object) -> int | None:  # type: ignore[override]
        try:
            return self[number]
        except TypeError:  # an unhashable value: not a number
            self.off_grid = True
            return None


def recorded_instruments(path: Path) -> list[tuple[str, str]]:
    """The instruments a recording's header names (or, when it names none, its first
    market messages name)."""
    with _open(path) as handle:
        try:
            header = _header(path, handle.readline())
        except UnicodeDecodeError:
            raise DataError(path, 1, "not UTF-8 text: not a vmx recording") from None
        listed = header.get("instruments")
        if isinstance(listed, list) and listed:
            found = []
            for item in listed:
                exchange, _, symbol = str(item).partition(":")
                found.append((exchange, symbol))
            return found
        seen: dict[tuple[str, str], None] = {}
        for count, line in enumerate(handle):
            if count > 10_000:
                break
            try:
                msg = jsonfmt.loads(line).get("msg") or {}
            except (ValueError, AttributeError):
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


def read_recording(path: Path, instrument: Instrument) -> MarketData:
    """The recording's events for `instrument`, in integer ticks and lots.

    Each line is first decoded into the typed market messages (market_messages.py); a line
    that does not fit them is read again with the generic decoder (`_GenericLines`), which
    skips what a replay ignores and says what is wrong with the rest. With the C core, the
    typed lines are read in C (`_native.recording_events`, which this loop is the reference
    of): it hands back to this loop each line it does not take.
    """
    events: list[Event] = []
    append = events.append
    exchange, symbol = instrument.venue.name, instrument.symbol
    ticks, lots = _Steps(instrument.ticks_of), _Steps(instrument.lots_of)
    typed = typed_decoder()
    fast = recording_events if typed is not None else None
    state: list = [1, 0, None, None]  # the last line read, its t, the first and last trade price
    with _open(path) as handle, _no_cycle_collection():
        try:
            header = _header(path, handle.readline())
        except UnicodeDecodeError:
            raise DataError(path, 1, "not UTF-8 text: not a vmx recording") from None
        started = header.get("started_at")
        try:
            origin = to_micros(parse_iso(started))
        except (TypeError, ValueError):
            raise DataError(path, 1, f"header started_at {started!r} is not a UTC time") from None
        generic = _GenericLines(path, origin, exchange, symbol, ticks.get, lots.get)
        try:
            while True:
                if fast is not None:
                    text = fast(
                        handle, typed, MESSAGE_TYPES, exchange, symbol, origin, ticks, lots,
                        events, state,
                    )  # fmt: skip
                else:
                    text = next(handle, None)
                    state[0] += 1
                if text is None:
                    break
                last_t = state[1]
                price = None
                try:
                    if typed is None:
                        raise ValueError("no typed decoder")
                    entry = typed(text)
                    t = entry.t
                    if t < last_t:
                        raise ValueError("time goes backwards")
                    msg = entry.msg
                    kind = msg.kind
                    if kind == SKIPPED or msg.exchange != exchange or msg.symbol != symbol:
                        event = None
                    elif kind == BOOK_DELTA:
                        bids, asks = [], []
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
        except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise DataError(
                path, state[0], f"a market message lacks a field or a number ({exc!r})"
            ) from None
        except UnicodeDecodeError:
            raise DataError(path, state[0], "not UTF-8 text") from None
    if ticks.off_grid or lots.off_grid:
        raise DataError(path, 0, f"a price or quantity is off {instrument.key}'s tick or lot grid")
    if not events:
        raise DataError(path, state[0], f"no book or trade messages for {instrument.key}")
    return MarketData(events, _number(state[2]), _number(state[3]))


def _number(value: object) -> Decimal | None:
    """A recorded price as a Decimal (the typed decoder leaves a float literal as its text)."""
    return None if value is None else Decimal(value)  # type: ignore[arg-type]


class _GenericLines:
    """Lines read with the generic decoder: what the typed one could not take."""

    def __init__(
        self,
        path: Path,
        origin: int,
        exchange: str,
        symbol: str,
        ticks_of: Callable[[object], int | None],
        lots_of: Callable[[object], int | None],
    ) -> None:
        self.path = path
        self.origin = origin
        self.exchange = exchange
        self.symbol = symbol
        self.ticks_of = ticks_of
        self.lots_of = lots_of
        self.loads = decoder()

    def read(self, text: str, line: int, last_t: int) -> tuple[int, Event | None, object] | None:
        """(t, the line's event or None when the replay ignores it, a trade's price or None);
        None for a blank line. Raises DataError for a line that is not a recording entry (or
        one whose t is before `last_t`), and KeyError, TypeError... for a market message
        without its fields."""
        if not text.strip():
            return None
        path = self.path
        try:
            entry = self.loads(text)
            t = entry["t"]
            msg = entry["msg"]
            kind = msg["type"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise DataError(
                path, line, 'not a recording entry {"t": ns, "msg": {"type": ...}}'
            ) from None
        if type(t) is not int or t < last_t:
            raise DataError(path, line, '"t" must be a whole number of ns, never decreasing')
        if kind not in ("book_delta", "book_snapshot", "trade"):
            return t, None, None
        if msg.get("exchange") != self.exchange or msg.get("symbol") != self.symbol:
            return t, None, None
        ticks_of, lots_of = self.ticks_of, self.lots_of
        stamp = self.origin + t // 1000
        if kind == "book_delta":
            bids, asks = [], []
            for change in msg["changes"]:
                level = (ticks_of(change["price"]), lots_of(change["quantity"]))
                (bids if change["side"] == "bid" else asks).append(level)
            return t, (stamp, BOOK, False, tuple(bids), tuple(asks)), None
        if kind == "book_snapshot":
            bids = [(ticks_of(v["price"]), lots_of(v["quantity"])) for v in msg["bids"]]
            asks = [(ticks_of(v["price"]), lots_of(v["quantity"])) for v in msg["asks"]]
            return t, (stamp, BOOK, True, tuple(bids), tuple(asks)), None
        price = msg["price"]
        side = BUY if msg["side"] == "buy" else SELL
        return t, (stamp, TRADE, side, ticks_of(price), lots_of(msg["quantity"])), price


def book_state_at(events: list[Event]) -> Event | None:
    """The book at the end of `events` as one snapshot event (None when there was no book)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    seen = False
    stamp = 0
    for event in events:
        if event[1] != BOOK:
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


__all__ = ["book_state_at", "read_recording", "recorded_instruments"]
