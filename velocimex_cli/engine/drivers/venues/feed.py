"""What a venue's source yields to the engine: the seam between ccxt (`ccxt_source.py`, the
`live` extra) and the engine's mirror (`mirror.py`).

A source knows nothing of the engine: it reads a venue's markets and, per symbol, yields the
events below with prices and quantities exactly as the venue states them, and times as
timezone-aware UTC datetimes. The engine knows nothing of ccxt: it applies these events.

A number is a Decimal, or (in a book's levels) a float that stands for the decimal of its
shortest text, `repr` (`exact`): ccxt parses the venue's text into floats, whose shortest text
is that text again, so a source hands them over as they are and the engine turns them into
ticks and lots exactly without making a Decimal of each (book_apply.levels_of).

Per symbol, `watch` yields, in order:

- `BookSnapshot` first, and again after every `FeedDown` once the venue's book is whole again
  (ccxt resynced it: a new REST snapshot, a resubscription);
- then any number of `BookChanges` (the levels an update changed, each at its new total size,
  0 when the level is gone) and `TradePrint`s, in the venue's order;
- `FeedDown` when the book can no longer be trusted (a sequence gap, a checksum error, a closed
  connection, a stalled feed, an unreachable venue): the engine halts the instrument until the
  next `BookSnapshot`. The source retries by itself with backoff and never ends on its own; it
  ends only when the engine cancels it or calls `close()`.

`markets()` raises `VenueUnavailable` (with ccxt's reason) when the venue cannot be reached;
the engine retries with backoff and serves its other exchanges meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

Number = Decimal | float  # a float: the decimal of its shortest text (see above)
Level = tuple[Number, Number]  # (price, total quantity at that price); quantity 0: gone


def exact(value: Number) -> Decimal:
    """A level's number as the decimal it stands for."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value if isinstance(value, Decimal) else Decimal(str(value))


class VenueUnavailable(Exception):
    """The venue cannot be used now; `reason` is shown to the user as the halt reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownSymbol(ValueError):
    """A mirrored symbol the venue does not list as an active spot market (not retried)."""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One spot market as the venue states it (ccxt `load_markets`)."""

    symbol: str  # ccxt unified: "BTC/USDT"
    base: str
    quote: str
    tick_size: Decimal  # the price increment
    lot_size: Decimal  # the quantity increment
    min_quantity: Decimal | None  # None: the venue states none (the lot size is the least)
    min_notional: Decimal | None  # price * quantity at least this, in the quote asset
    taker_fee: Decimal | None  # a fraction (0.001 = 10 bps), as ccxt states the venue's tier 0
    maker_fee: Decimal | None


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    bids: Sequence[Level]  # best (highest) first, the whole book ccxt keeps
    asks: Sequence[Level]  # best (lowest) first
    exchange_time: datetime | None  # the venue's time of the book, when it states one
    received: datetime  # when the source read it


@dataclass(frozen=True, slots=True)
class BookChanges:
    symbol: str
    bids: Sequence[Level]  # changed bid levels at their new size (0: removed), any order
    asks: Sequence[Level]
    exchange_time: datetime | None
    received: datetime


@dataclass(frozen=True, slots=True)
class TradePrint:
    symbol: str
    price: Decimal
    quantity: Decimal
    taker_side: Literal["buy", "sell"]  # the aggressor
    trade_id: str | None
    exchange_time: datetime | None
    received: datetime


@dataclass(frozen=True, slots=True)
class FeedDown:
    symbol: str
    reason: str  # e.g. "sequence gap: update 1204 after 1190", ccxt's error text
    received: datetime


FeedEvent = BookSnapshot | BookChanges | TradePrint | FeedDown


class VenueSource(Protocol):
    """One venue (one ccxt exchange instance), all its mirrored symbols."""

    venue: str  # the ccxt id

    async def markets(self, symbols: Sequence[str]) -> list[MarketSpec]:
        """The venue's spot markets for `symbols`; raises `UnknownSymbol` naming any it does not
        list, `VenueUnavailable` when it cannot be reached."""
        ...

    def watch(self, symbol: str) -> AsyncIterator[FeedEvent]:
        """The symbol's events, as described above, until cancelled."""
        ...

    async def close(self) -> None: ...
