"""A recording's lines read with the generic decoder: the lines the typed reader
(recording.read_recording, or recording.c) could not take. It skips what a replay ignores and
says what is wrong with the rest: an error naming the file, the line and, where the decoder
gives one, the column."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from velocimex_cli.engine.backtest.data import BOOK, TRADE, DataError, Event, FeedState
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.wire.decoding import decoder
from velocimex_cli.wire.recording_format import MAX_T_NS, CheckedJson, LineProblem
from velocimex_cli.wire.recording_times import MAX_REASON, time_goes_back, time_too_far


class GenericLines:
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
        except (ValueError, RecursionError) as exc:
            try:  # the checked decoder names a number out of range, and NaN
                CheckedJson().loads(text)
            except LineProblem as problem:
                raise DataError(path, line, problem.problem, problem.column) from None
            column = decoder_column(str(exc))
            raise DataError(path, line, f"not valid JSON ({exc})", column) from None
        try:
            t = entry["t"]
            msg = entry["msg"]
            kind = msg["type"]
        except (KeyError, TypeError):
            raise DataError(
                path, line, 'not a recording entry {"t": ns, "msg": {"type": ...}}'
            ) from None
        if type(t) is not int or t < 0:
            raise DataError(path, line, '"t" must be a whole number of ns >= 0')
        if t < last_t:
            raise DataError(path, line, time_goes_back(t, last_t))
        if t > MAX_T_NS:
            raise DataError(path, line, time_too_far(t))
        if kind not in ("book_delta", "book_snapshot", "trade", "book_status"):
            return t, None, None
        if msg.get("exchange") != self.exchange or msg.get("symbol") != self.symbol:
            return t, None, None
        ticks_of, lots_of = self.ticks_of, self.lots_of
        stamp = self.origin + t // 1000
        if kind == "book_status":
            return t, (stamp, BOOK, self._feed_state(msg, line), (), ()), None
        if kind == "book_delta":
            bids: list[tuple[int | None, int | None]] = []
            asks: list[tuple[int | None, int | None]] = []
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

    def _feed_state(self, msg: dict, line: int) -> FeedState:
        """A `book_status` message's state (wire/streams.book_status_message), checked."""
        valid, reason = msg.get("valid"), msg.get("reason")
        if type(valid) is not bool:
            raise DataError(
                self.path, line, f'book_status "valid" is {valid!r}: it must be true or false'
            )
        if reason is not None and not isinstance(reason, str):
            raise DataError(
                self.path, line, f'book_status "reason" is {reason!r}: it must be text or null'
            )
        if reason is not None and len(reason) > MAX_REASON:
            raise DataError(
                self.path,
                line,
                f'book_status "reason" is {len(reason)} characters long: at most {MAX_REASON}',
            )
        if valid:
            return FeedState(True, None)
        return FeedState(False, reason or "the recorded feed was down")


def decoder_column(problem: str) -> int:
    """The column a decoder's message gives ("... (byte 36)": column 37), else 0."""
    found = re.search(r"\(byte (\d+)\)", problem)
    return int(found.group(1)) + 1 if found else 0
