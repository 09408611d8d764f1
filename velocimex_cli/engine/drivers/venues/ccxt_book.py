"""ccxt's order book, noting what each update changed, and ccxt's numbers as the venue stated them.

ccxt keeps a venue's book (`OrderBook`, sides `Asks`/`Bids`). `NotingBook` is that book whose
sides note each price ccxt stores, at the size it stored (0: removed, also for each level
ccxt's depth limit drops), so an update yields only the levels it changed without diffing the
book (`levels` hands them over); `resynced` says ccxt reset it from a snapshot (a REST
snapshot, a resubscription), and `failure` that a venue check found it invalid (ccxt_venues.py:
Kraken's checksum). ccxt builds its books through the exchange's `order_book` method, which
ccxt_venues.exchange_class points here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ccxt.async_support.base.ws.order_book import OrderBook
from ccxt.async_support.base.ws.order_book_side import Asks, Bids


def dec(value: float | int | str) -> Decimal:
    """A ccxt number as the venue stated it: through its shortest text, never binary float."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def number(value: float | int | str) -> float | Decimal:
    """A ccxt number for a book level (feed.Level): a float as it is (it stands for the decimal
    of its shortest text), anything else as its Decimal."""
    return value if type(value) is float else dec(value)


def levels(side: Any) -> list[tuple[float | Decimal, float | Decimal]]:
    """The levels a noting side noted since the last call (price, size; 0: gone), as
    feed.Levels (ccxt's numbers are floats); it notes afresh (its dict is handed over)."""
    changed: dict[Any, Any] = side.changed
    side.changed = {}
    return list(changed.items())


def ms_time(ms: Any) -> datetime | None:
    """A ccxt timestamp (milliseconds since the epoch) as a UTC time; None stays None."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _noting(side: Any) -> Any:
    """ccxt's book side `side` (Asks or Bids), noting each price ccxt stores and the size it
    stored in `changed` (0: removed, also for each level ccxt's depth limit drops)."""

    class Noting(side):
        def __init__(self, deltas: Any = (), depth: int | None = None) -> None:
            self.changed: dict[float, float] = {}
            super().__init__(list(deltas), depth)

        def storeArray(self, delta: list[Any]) -> None:
            self.changed[delta[0]] = delta[1]
            side.storeArray(self, delta)

        def limit(self) -> None:
            extra = len(self) - self._depth
            if extra > 0:
                for level in self[-extra:]:
                    self.changed[level[0]] = 0.0
            side.limit(self)

    Noting.__name__ = Noting.__qualname__ = f"Noting{side.__name__}"
    return Noting


NotingAsks = _noting(Asks)
NotingBids = _noting(Bids)


class NotingBook(OrderBook):
    """ccxt's order book; `resynced` is set whenever ccxt resets it from a snapshot, and
    `failure` when a venue check finds it invalid (a checksum mismatch)."""

    def __init__(self, snapshot: Mapping[str, Any] | None = None, depth: int | None = None):
        snap = dict(snapshot or {})
        snap["asks"] = NotingAsks(snap.get("asks", ()), depth)
        snap["bids"] = NotingBids(snap.get("bids", ()), depth)
        super().__init__(snap, depth)
        self.resynced = False
        self.failure: str | None = None

    def reset(self, snapshot: Mapping[str, Any] | None = None) -> None:
        super().reset(dict(snapshot or {}))
        self["asks"].changed.clear()
        self["bids"].changed.clear()
        self.resynced = True
        self.failure = None
