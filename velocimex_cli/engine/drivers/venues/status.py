"""A mirrored exchange's feed state, as `GET /v1/markets/status` and the book channel show it.

The exchange is `open` only while its markets are loaded and every mirrored symbol's book is
whole (its last `BookSnapshot` came after its last `FeedDown`); otherwise it is `halted` with
the first reason found (the venue unreachable, a symbol's feed down or resyncing).
`last_update` is the exchange time of the last message (the time it was read when the venue
states none); `feed` (an extension) names the source, the lag of that message (read time minus
exchange time, in milliseconds, null while no message stated a time) and how many times a
book was made whole again after being down (`reconnects`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from velocimex_cli.wire.timefmt import iso

LOADING = "loading the venue's markets"
AWAITING = "waiting for the venue's first book snapshot"


@dataclass
class FeedStatus:
    source: str  # the ccxt id
    exchange: str
    venue_reason: str | None = LOADING  # the venue as a whole (markets not loaded yet)
    down: dict[str, str] = field(default_factory=dict)  # symbol -> why its book is not whole
    reconnects: int = 0
    last_update: datetime | None = None
    lag_ms: int | None = None

    @property
    def live(self) -> bool:
        return self.venue_reason is None and not self.down

    @property
    def reason(self) -> str | None:
        if self.venue_reason is not None:
            return self.venue_reason
        for symbol, why in self.down.items():
            return f"{symbol}: {why}"
        return None

    def message(self, exchange_time: datetime | None, received: datetime) -> None:
        """A message was read: the feed's time and lag follow it."""
        if exchange_time is None:
            self.last_update = received
            return
        self.last_update = exchange_time
        self.lag_ms = max(0, round((received - exchange_time).total_seconds() * 1000))

    def wire(self, now: datetime) -> dict[str, Any]:
        """This exchange's row of the market status."""
        return {
            "exchange": self.exchange,
            "status": "open" if self.live else "halted",
            "last_update": iso(self.last_update or now),
            "reason": self.reason,
            "feed": {"source": self.source, "lag_ms": self.lag_ms, "reconnects": self.reconnects},
        }
