"""The stall watchdog of one watched symbol: a connection that stopped delivering is dropped, so
ccxt connects and subscribes again (the source yields FeedDown meanwhile).

- **The book's connection**: no message for `stall_after` seconds drops it, and the symbol's
  trade connection with it: the resync discards trades anyway, and a connection that stalls is
  rarely the only one (kept, a stalled trade connection would halt the symbol again after the
  book's resync, once its own probe went unanswered). A venue that sends nothing while a book
  is quiet (Binance's diff stream) needs `stall_after` longer than its quietest symbol's silence.
- **A trade connection of its own** (Binance's): a tape may rightly be quiet for long, so
  silence alone proves nothing. After `stall_after` seconds without a message on it, the
  watchdog asks the venue on that connection which streams it is subscribed to (Binance's
  `LIST_SUBSCRIPTIONS` request, answered `{"result": [...], "id": n}`). A live connection
  answers, and the tape is left alone however quiet it stays (the answer restarts the silence,
  so a quiet tape is asked once every `stall_after` seconds). No answer within
  `stall_after / 2` seconds: the connection is stalled and is dropped ("trade stream stalled:
  ..."). An answer that lacks the symbol's trade stream (the venue dropped the subscription)
  drops it too. Venues whose trades share the book's connection (Kraken, Coinbase) are covered
  by the book's check.

Not while the symbol's book resyncs (ccxt's own timeouts bound the snapshot and the dial); still
while the symbol waits for a whole book after its trade stream failed, since only an update on
the book's connection ends that wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from velocimex_cli.engine.drivers.venues.ccxt_venues import (
    BOOK_HASH,
    TRADE_HASH,
    TRADE_PROBE,
    UNANSWERED,
    background,
    drop_client,
    subscribed_client,
)


class _Probe:
    """A question sent on a trade connection, waiting for its answer."""

    __slots__ = ("client", "quiet", "request_id", "sent_at")

    def __init__(self, client: Any, request_id: int, sent_at: int, quiet: float) -> None:
        self.client = client
        self.request_id = request_id
        self.sent_at = sent_at  # ccxt's milliseconds
        self.quiet = quiet  # seconds the connection had been silent when it was asked


class StallWatchdog:
    def __init__(
        self, exchange: Any, venue: str, symbol: str, stall_after: float, down: Callable[[], bool]
    ) -> None:
        """`down()`: whether the symbol's book is resyncing (nothing is checked then)."""
        self.exchange = exchange
        self.venue = venue
        self.symbol = symbol
        self.stall_after = stall_after
        self.down = down
        self.book_hash = BOOK_HASH.get(venue, "{}").format(symbol)
        self.trade_hash = TRADE_HASH.get(venue, "{}").format(symbol)
        self.probe: _Probe | None = None

    async def run(self) -> None:
        period = max(self.stall_after / 4, 0.01)
        while True:
            await asyncio.sleep(period)
            if self.down():
                self.probe = None
                continue
            book_client = subscribed_client(self.exchange, self.book_hash)
            if not self.check_book(book_client):
                self.check_trades(book_client)

    def quiet_for(self, client: Any) -> float | None:
        """Seconds since `client` last received a message (None: not connected yet)."""
        if client is None or not client.connected.done():
            return None
        last = client.last_message_at or client.connectionEstablished
        if last is None:
            return None
        return float(self.exchange.milliseconds() - last) / 1000

    def check_book(self, book_client: Any) -> bool:
        """Drop the book's connection when it has been silent too long; True if it was."""
        quiet = self.quiet_for(book_client)
        if quiet is None or quiet < self.stall_after:
            return False
        reason = f"stalled: no message for {quiet:.1f}s"
        trade_client = subscribed_client(self.exchange, self.trade_hash)
        if trade_client is not None and trade_client is not book_client:
            drop_client(self.exchange, trade_client, reason)
        drop_client(self.exchange, book_client, reason)
        self.probe = None
        return True

    def check_trades(self, book_client: Any) -> None:
        """Ask a silent trade connection of its own whether it lives; drop it if it does not
        answer in time, or answers without the symbol's trade stream."""
        exchange = self.exchange
        question = TRADE_PROBE.get(self.venue)
        client = subscribed_client(exchange, self.trade_hash)
        if question is None or client is None or client is book_client:
            self.probe = None
            return
        probe = self.probe
        if probe is not None and probe.client is client:
            self._follow(probe)
            return
        quiet = self.quiet_for(client)
        if quiet is None or quiet < self.stall_after:
            return
        request_id = exchange.request_id(client.url)
        exchange.vmx_probes[(client.url, request_id)] = UNANSWERED
        self.probe = _Probe(client, request_id, exchange.milliseconds(), quiet)

        async def ask() -> None:
            with contextlib.suppress(Exception):  # (closing: the next check sees it)
                await client.send(question(request_id))

        background(exchange, ask())

    def _follow(self, probe: _Probe) -> None:
        exchange = self.exchange
        probes: dict[tuple[str, int], Any] = exchange.vmx_probes
        key = (probe.client.url, probe.request_id)
        answer = probes.get(key, UNANSWERED)
        if answer is not UNANSWERED:  # answered: the connection lives
            del probes[key]
            self.probe = None
            stream = exchange.vmx_trade_stream(self.symbol)
            if isinstance(answer, list) and stream not in answer:
                drop_client(exchange, probe.client, f"trade stream: the venue dropped {stream}")
            return
        waited = float(exchange.milliseconds() - probe.sent_at) / 1000
        if waited >= self.stall_after / 2:
            probes.pop(key, None)
            self.probe = None
            drop_client(
                exchange,
                probe.client,
                f"trade stream stalled: no message for {probe.quiet:.1f}s and no answer to "
                f"a probe within {waited:.1f}s",
            )
