"""Per-instrument trade statistics for the ticker: last price and the rolling 24-hour volume."""

from __future__ import annotations

from collections import deque

DAY_MICROS = 86_400 * 1_000_000


class MarketStats:
    """Last trade price and the trades of the last 24 hours, for the ticker."""

    __slots__ = ("last_price", "trades", "volume")

    def __init__(self) -> None:
        self.last_price: int | None = None
        self.trades: deque[tuple[int, int]] = deque()
        self.volume = 0

    def record(self, now: int, price: int, lots: int) -> None:
        self.last_price = price
        self.trades.append((now, lots))
        self.volume += lots
        self.expire(now)

    def expire(self, now: int) -> None:
        horizon = now - DAY_MICROS
        trades = self.trades
        while trades and trades[0][0] <= horizon:
            self.volume -= trades.popleft()[1]
