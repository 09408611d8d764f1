"""What one ladder frame shows (`LadderView`), the figures of its book (best bid and ask, mid,
spread, imbalance) and what the header says about the book: whether its levels may be drawn
as valid, and if not, why (syncing, resyncing, reconnecting, a mirrored feed down, crossed).
Data in, data out: no Rich, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from velocimex_cli.render.price_levels import Level
from velocimex_cli.render.tape import Trade
from velocimex_cli.wire.numbers import plain

CENT = Decimal("0.01")
_BPS = Decimal(10_000)


@dataclass
class LadderView:
    """Everything one ladder frame shows. Prices and sizes are Decimals, best level first.

    `own` maps (side "bid"|"ask", price) to the remaining size of the user's resting orders
    there. `book_status` is the local book's ("syncing", "live", "resyncing"); `connection`
    the stream's ("connecting", "live", "reconnecting (attempt n)", "closed").
    `reference_price` is what the change is measured from (the first trade seen).
    """

    exchange: str
    symbol: str
    bids: Sequence[Level] = ()
    asks: Sequence[Level] = ()
    sequence: int | None = None
    book_status: str = "live"
    connection: str = "live"
    last_price: Decimal | None = None
    reference_price: Decimal | None = None
    own: Mapping[tuple[str, Decimal], Decimal] = field(default_factory=dict)
    trades: Sequence[Trade] = ()
    messages_per_second: float | None = None
    lag_ms: float | None = None
    frames_per_second: float | None = None
    group_step: Decimal | None = None
    group_ticks: int | None = None
    note: str | None = None
    hint: str = "q quit"
    replay: str | None = None  # "replay ×10": a recording, not a live feed (no lag to show)
    # A mirrored exchange's feed is down or resyncing: why (the engine's book is not the
    # venue's until its next snapshot).
    feed_down: str | None = None


@dataclass(frozen=True)
class BookFigures:
    best_bid: Decimal | None
    best_ask: Decimal | None
    mid: Decimal | None
    spread: Decimal | None
    spread_bps: Decimal | None
    imbalance: Decimal | None  # (bid size - ask size) / both, over the levels shown

    @property
    def crossed(self) -> bool:
        return (
            self.best_bid is not None
            and self.best_ask is not None
            and (self.best_bid >= self.best_ask)
        )


def book_figures(bids: Sequence[Level], asks: Sequence[Level]) -> BookFigures:
    best_bid = bids[0][0] if bids else None
    best_ask = asks[0][0] if asks else None
    mid = spread = bps = None
    if best_bid is not None and best_ask is not None:
        mid = (best_bid + best_ask) / 2
        spread = best_ask - best_bid
        if mid > 0:
            bps = (spread / mid * _BPS).quantize(CENT)
    bid_size = sum((size for _, size in bids), Decimal(0))
    ask_size = sum((size for _, size in asks), Decimal(0))
    both = bid_size + ask_size
    imbalance = ((bid_size - ask_size) / both).quantize(CENT) if both > 0 else None
    return BookFigures(best_bid, best_ask, mid, spread, bps, imbalance)


@dataclass(frozen=True)
class BookState:
    label: str
    style: str
    valid: bool
    reason: str | None = None


def book_state(view: LadderView, figures: BookFigures) -> BookState:
    """What the header says about the book, and whether its levels may be shown as valid."""
    connection = view.connection
    if connection != "live":
        return BookState(connection, "bold black on yellow", False, f"stale: {connection}")
    if view.book_status == "syncing":
        return BookState("syncing", "bold black on yellow", False, "waiting for the book")
    if view.feed_down is not None:
        reason = f"{view.exchange} {view.symbol} feed down: {view.feed_down}"
        return BookState(f"feed down: {view.feed_down}", "bold white on red", False, reason)
    if view.book_status != "live":
        return BookState(view.book_status, "bold black on yellow", False, "resyncing the book")
    if figures.crossed:
        reason = f"book crossed: bid {plain(figures.best_bid)} ≥ ask {plain(figures.best_ask)}"  # type: ignore[arg-type]  # crossed: both sides
        return BookState("book crossed", "bold white on red", False, reason + ", not valid")
    if view.replay:
        return BookState(view.replay, "bold cyan", True)
    return BookState("live", "bold green", True)
