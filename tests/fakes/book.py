"""A fake venue's true book of one symbol: what the venue's clients must end up holding."""

from __future__ import annotations

from decimal import Decimal


class TrueBook:
    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def side(self, side: str) -> dict[Decimal, Decimal]:
        return self.bids if side == "bid" else self.asks

    def set(self, side: str, price: str | Decimal, qty: str | Decimal) -> tuple[Decimal, Decimal]:
        """Set a level's total size (0 removes it); the level as the venue now states it."""
        levels = self.side(side)
        p, q = Decimal(price), Decimal(qty)
        if q:
            levels[p] = q
        else:
            levels.pop(p, None)
        return p, q

    def sorted(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """Best first."""
        return sorted(self.side(side).items(), reverse=side == "bid")

    def plain(self) -> dict[str, dict[Decimal, Decimal]]:
        return {"bids": dict(self.bids), "asks": dict(self.asks)}
