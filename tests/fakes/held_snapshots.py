"""A slow resync, for the fake venues that serve books over a WebSocket subscription (Kraken,
Coinbase): while holding, a book subscription is acknowledged but its snapshot (and the updates
after it) wait for `release_snapshots`."""

from __future__ import annotations

from typing import Generic, TypeVar

from tests.fakes.server import Connection, FakeServer

Market = TypeVar("Market")


class HeldSnapshots(Generic[Market]):
    """Mixed into a fake venue, which serves a released subscription with `_serve_book`."""

    server: FakeServer

    def __init__(self) -> None:
        self.holding = False
        self.held: list[tuple[Connection, Market]] = []  # subscribed, not yet served

    def _serve_book(self, connection: Connection, market: Market) -> None:
        """Subscribe `connection` to the market's book and send it the snapshot."""
        raise NotImplementedError

    def hold_snapshots(self) -> None:
        """From now on a book subscription is acknowledged, but its snapshot (and the updates
        after it) wait for `release_snapshots`: a resync that takes a while."""
        self.holding = True

    def release_snapshots(self) -> None:
        """Serve the held subscriptions still open: the book as it is now, then its updates."""
        self.holding = False
        held, self.held = self.held, []
        for connection, market in held:
            if connection in self.server.connections:
                self._serve_book(connection, market)
