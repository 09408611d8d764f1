"""Typed events the core emits after each command commits. The core itself does no I/O.

Payloads are wire-ready dicts (Decimal numbers, ISO-8601 strings) in the shapes of docs/api.md,
so the API layer only serialises them (a TradeEvent builds its dict on the first read).
Listeners must not change an event (several may receive the same one); the classes are not
frozen only because a frozen dataclass's __init__ costs two to three times as much, and a
backtest builds one per replayed print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.orders import SIDE_NAMES
from velocimex_cli.wire.timefmt import iso_from_micros

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument


@dataclass(slots=True)
class OrderEvent:
    """An order was accepted, partially filled, filled, canceled or rejected."""

    account: str
    event: str
    order: dict[str, Any]


@dataclass(slots=True)
class FillEvent:
    """One side of a trade, for the account that owns the order."""

    account: str
    fill: dict[str, Any]


@dataclass(slots=True)
class TradeEvent:
    """A public trade in the engine's own units: `price` in ticks, `lots`, `side` (the
    taker's, BUY or SELL) and `micros` since the epoch. `trade` is its wire dict, built on the
    first read: a backtest's strategy takes the values as they are (event_values.trade_tick),
    without formatting them into strings and Decimals to parse them back."""

    instrument: Instrument
    trade_id: int
    price: int
    lots: int
    side: int
    micros: int
    _trade: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def trade(self) -> dict[str, Any]:
        """The trade as the wire carries it (docs/api.md's Trade)."""
        trade = self._trade
        if trade is None:
            instrument = self.instrument
            trade = self._trade = {
                "trade_id": str(self.trade_id),
                "exchange": instrument.venue.name,
                "symbol": instrument.symbol,
                "price": instrument.price_of(self.price),
                "quantity": instrument.quantity_of(self.lots),
                "side": SIDE_NAMES[self.side],
                "timestamp": iso_from_micros(self.micros),
            }
        return trade


@dataclass(slots=True)
class BookEvent:
    """Levels changed by one command; `sequence` is the previous sequence + 1 for the instrument.
    `checksum`: the book's checksum after the command (velocimex_cli.wire.streams)."""

    exchange: str
    symbol: str
    sequence: int
    timestamp: str
    changes: list[dict[str, Any]]
    checksum: int = 0


@dataclass(slots=True)
class TickerEvent:
    """The instrument's Market Data after a trade or a change of its best prices."""

    ticker: dict[str, Any]


@dataclass(slots=True)
class BookStatusEvent:
    """(extension) Whether a mirrored instrument's book is a true copy of its venue's
    (wire/streams.book_status_message); `reason` says why not."""

    exchange: str
    symbol: str
    valid: bool
    reason: str | None
    timestamp: str


Event = OrderEvent | FillEvent | TradeEvent | BookEvent | TickerEvent | BookStatusEvent
