"""What `vmx watch` knows between frames: the stream's messages folded into one state.

`MarketWatch.apply(msg)` takes every message of the market and orders streams (after the book
sync applied book messages to the `LocalBook`) and says whether the screen would change;
`view(depth)` builds the ladder's `LadderView`, `snapshot(depth)` the NDJSON object.
`FrameStats` counts messages and frames and measures message-to-screen lag from the
`received_at` (monotonic ns) the stream client stamps on each message. No I/O, no clock reads:
times are passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from velocimex_cli.render.ladder_view import LadderView
from velocimex_cli.render.order_board import OrderBoard
from velocimex_cli.render.tape import Trade
from velocimex_cli.wire.numbers import parse_decimal

# book_status: a mirrored exchange's word on whether the engine's book is the venue's.
BOOK_MESSAGES = ("book_snapshot", "book_delta", "book_status")


class BookLike(Protocol):
    status: str
    sequence: int | None
    feed_down: str | None

    def bids(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...

    def asks(self, depth: int | None = None) -> list[tuple[Decimal, Decimal]]: ...


class FrameStats:
    """Messages/s and frames/s over ~1 s windows, and the lag of the oldest message a frame showed.

    With `keep_lags`, every message's lag (frame time - receive time, ns) is kept in `lags_ns`
    (the benchmark's p99); the view itself needs only the worst one per frame.
    """

    def __init__(self, keep_lags: bool = False) -> None:
        self.messages = 0
        self.frames = 0
        self.messages_per_second: float | None = None
        self.frames_per_second: float | None = None
        self.lag_ms: float | None = None
        self.lags_ns: list[int] | None = [] if keep_lags else None
        self._pending: list[int] = []
        self._oldest: int | None = None
        self._window_start: int | None = None
        self._window_messages = 0
        self._window_frames = 0

    def on_message(self, received_at: int) -> None:
        self.messages += 1
        self._window_messages += 1
        if self._oldest is None:
            self._oldest = received_at
        if self.lags_ns is not None:
            self._pending.append(received_at)

    def on_frame(self, now_ns: int) -> None:
        """A frame showing every message so far reached the screen at `now_ns`."""
        self.frames += 1
        self._window_frames += 1
        if self._oldest is not None:
            self.lag_ms = (now_ns - self._oldest) / 1e6
            self._oldest = None
        if self.lags_ns is not None and self._pending:
            self.lags_ns.extend(now_ns - r for r in self._pending)
            self._pending.clear()
        if self._window_start is None:
            self._window_start = now_ns
            self._window_messages = self._window_frames = 0
            return
        elapsed = now_ns - self._window_start
        if elapsed >= 1_000_000_000:
            self.messages_per_second = self._window_messages * 1e9 / elapsed
            self.frames_per_second = self._window_frames * 1e9 / elapsed
            self._window_start = now_ns
            self._window_messages = self._window_frames = 0


def connection_label(message: dict[str, Any]) -> str:
    state = message.get("state", "")
    if state == "reconnecting":
        return f"reconnecting (attempt {message.get('attempt', 0)})"
    return str(state)


class MarketWatch:
    def __init__(
        self,
        exchange: str,
        symbol: str,
        book: Callable[[], BookLike | None],
        *,
        tape_size: int = 200,
        group_step: Decimal | None = None,
        group_ticks: int | None = None,
        stats: FrameStats | None = None,
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self._book = book
        self.trades: deque[Trade] = deque(maxlen=tape_size)
        self.connection = "connecting"
        self.last_price: Decimal | None = None
        self.reference_price: Decimal | None = None
        self.orders = OrderBoard()
        self.group_step = group_step
        self.group_ticks = group_ticks
        self.replay: str | None = None  # what the header says instead of live, for a replay
        self.stats = stats or FrameStats()
        self.note: str | None = None
        self.hint = "q quit"

    @property
    def book(self) -> BookLike | None:
        return self._book()

    def _ours(self, message: dict[str, Any]) -> bool:
        return message.get("exchange") == self.exchange and message.get("symbol") == self.symbol

    def apply(self, message: dict[str, Any]) -> bool:
        """Fold one message in; True when the screen would change."""
        kind = message.get("type")
        changed = False
        if kind in BOOK_MESSAGES:
            changed = self._ours(message)
        elif kind == "trade":
            if self._ours(message):
                trade = Trade.from_message(message)
                self.trades.appendleft(trade)
                self._last(trade.price)
                changed = True
        elif kind == "ticker":
            if self._ours(message):
                price = parse_decimal(message.get("price"))
                changed = price is not None and price != self.last_price
                if changed:
                    self._last(price)  # type: ignore[arg-type]  # changed: not None
        elif kind == "connection":
            self.connection = connection_label(message)
            error = message.get("error")
            self.note = f"last error: {error}" if error and self.connection != "live" else None
            changed = True
        elif kind == "resync":
            self.note = f"resync: {message.get('reason')}"
            changed = True
        elif kind in ("order", "fill"):
            changed = self.orders.apply(message) and self._ours(message)
        if changed:
            received = message.get("received_at")
            if isinstance(received, int):
                self.stats.on_message(received)
        return changed

    def _last(self, price: Decimal) -> None:
        if self.reference_price is None:
            self.reference_price = price
        self.last_price = price

    def view(self, depth: int) -> LadderView:
        book = self.book
        if book is None:
            bids: list = []
            asks: list = []
            status, sequence = "syncing", None
        else:
            # Grouping merges levels: take enough raw ones to fill the grouped rows.
            raw = None if self.group_step else depth
            bids, asks = book.bids(raw), book.asks(raw)
            status, sequence = book.status, book.sequence
        feed_down = book.feed_down if book is not None else None
        stats = self.stats
        return LadderView(
            self.exchange,
            self.symbol,
            bids,
            asks,
            sequence=sequence,
            book_status=status,
            connection=self.connection,
            last_price=self.last_price,
            reference_price=self.reference_price,
            own=self.orders.own_levels(self.exchange, self.symbol),
            trades=list(self.trades),
            messages_per_second=stats.messages_per_second,
            lag_ms=stats.lag_ms,
            frames_per_second=stats.frames_per_second,
            group_step=self.group_step,
            group_ticks=self.group_ticks,
            note=self.note,
            hint=self.hint,
            replay=self.replay,
            feed_down=feed_down,
        )

    def snapshot(self, depth: int) -> dict[str, Any]:
        """One NDJSON line: the local book's top `depth` levels and whether it is valid
        (with `feed_down`, the reason, while a mirrored exchange's feed is down)."""
        book = self.book
        bids = book.bids(depth) if book is not None else []
        asks = book.asks(depth) if book is not None else []
        status = book.status if book is not None else "syncing"
        crossed = bool(bids and asks and bids[0][0] >= asks[0][0])
        feed_down = book.feed_down if book is not None else None
        line: dict[str, Any] = {
            "type": "book",
            "exchange": self.exchange,
            "symbol": self.symbol,
            "sequence": book.sequence if book is not None else None,
            "status": "resyncing" if crossed and status == "live" else status,
            "connection": self.connection,
            "valid": (
                status == "live" and self.connection == "live" and not crossed and not feed_down
            ),
            "last_price": self.last_price,
            "bids": [{"price": p, "quantity": q} for p, q in bids],
            "asks": [{"price": p, "quantity": q} for p, q in asks],
        }
        if feed_down is not None:  # a mirrored exchange's feed: why the book is not the venue's
            line["feed_down"] = feed_down
        return line
