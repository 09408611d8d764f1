"""The trade tape: the latest trades, newest first, the aggressor's side coloured. No I/O.

Column widths only ever grow (`TapeRenderer` remembers them), so a longer price or size arriving
never makes the columns jump back and forth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from velocimex_cli.wire.numbers import parse_decimal, plain

TIME_WIDTH = 12  # HH:MM:SS.mmm
_ARROW = {"buy": ("▲", "green"), "sell": ("▼", "red")}


@dataclass(frozen=True)
class Trade:
    """One trade as the tape shows it; `side` is the taker's (the aggressor)."""

    price: Decimal
    quantity: Decimal
    side: str
    timestamp: str  # ISO-8601 UTC, as on the wire

    @classmethod
    def from_message(cls, message: dict) -> Trade:
        """From a wire `trade` message (prices as Decimal or text); ValueError if malformed."""
        price, quantity = (
            parse_decimal(message.get("price")),
            parse_decimal(message.get("quantity")),
        )
        if price is None or quantity is None:
            raise ValueError(f"trade message without a price and quantity: {message!r}")
        return cls(price, quantity, str(message.get("side", "")), str(message.get("timestamp", "")))


def clock_of(timestamp: str) -> str:
    """'2026-11-24T15:00:00.123456Z' -> '15:00:00.123' (the tape's time column)."""
    if len(timestamp) >= 23 and timestamp[10] == "T":
        return timestamp[11:23]
    return timestamp[:TIME_WIDTH]


class TapeRenderer:
    """Renders the tape as fixed-width lines; the widths are sticky."""

    def __init__(self) -> None:
        self.price_width = 8
        self.size_width = 7
        self._cache: dict[Trade, Text] = {}

    @property
    def width(self) -> int:
        return TIME_WIDTH + 1 + self.price_width + 1 + self.size_width + 2

    def heading(self) -> Text:
        line = Text(
            "time".ljust(TIME_WIDTH)
            + " "
            + "price".rjust(self.price_width)
            + " "
            + "size".rjust(self.size_width)
            + "  ",
            style="bold",
        )
        return line

    def lines(self, trades: Sequence[Trade], rows: int) -> list[Text]:
        """The heading and then `rows` lines (blank once the trades run out), newest first."""
        shown = trades[:rows]
        grew = False
        for trade in shown:
            price, size = len(plain(trade.price)), len(plain(trade.quantity))
            if price > self.price_width:
                self.price_width, grew = price, True
            if size > self.size_width:
                self.size_width, grew = size, True
        if grew or len(self._cache) > 4096:
            self._cache.clear()
        out = [self.heading()]
        for trade in shown:
            line = self._cache.get(trade)
            if line is None:
                line = self._line(trade)
                self._cache[trade] = line
            out.append(line)
        blank = Text(" " * self.width)
        out.extend(blank for _ in range(rows - len(shown)))
        return out

    def _line(self, trade: Trade) -> Text:
        arrow, style = _ARROW.get(trade.side, ("·", ""))
        line = Text(clock_of(trade.timestamp).ljust(TIME_WIDTH) + " ", style="dim")
        line.append(plain(trade.price).rjust(self.price_width), style=style)
        line.append(" " + plain(trade.quantity).rjust(self.size_width) + " ")
        line.append(arrow, style=style)
        return line
