"""A local order book kept from a stream: one snapshot, then sequenced deltas.

`LocalBook.apply(msg)` takes the stream's `book_snapshot`/`book_delta` messages of one
instrument. Its `status` says whether it may be shown as the market:

- "syncing": no snapshot yet;
- "live": the snapshot plus every delta since, in sequence, not crossed, checksum verified per
  the policy;
- "resyncing": something was wrong (a sequence gap, a duplicate or out-of-order delta, a crossed
  book, a checksum mismatch, a lost connection); the book waits for a fresh snapshot and must
  not be shown as valid. `apply` returns the reason when it enters this state.

On a mirrored exchange the engine also sends `book_status` (wire.streams.book_status_message):
while its `valid` is false the engine's book is not a true copy of the venue's (its feed is down
or resyncing). The book keeps following the engine's deltas, but `feed_down` holds the reason
and `valid` is False until a fresh snapshot (or a `book_status` saying valid) arrives.

Checksum policy (`verify`): "every" checks after each message, "frame" only when `verify()` is
called (a view calls it once per rendered frame), "off" never. The sequence is always checked.

`BookSync` drives a `MarketStream`: it feeds the books and asks the server for a fresh snapshot
whenever a book needs a resync (and after a reconnect the replayed subscription brings one).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.wire.streams import CHECKSUM_DEPTH, book_checksum

if TYPE_CHECKING:
    from velocimex_cli.client.streams import MarketStream, StreamClient

VERIFY_POLICIES = ("every", "frame", "off")
_NO_BOOKS: dict[str, Any] = {}
SYNCING, LIVE, RESYNCING = "syncing", "live", "resyncing"

Level = tuple[Decimal, Decimal]


# Most level changes of a real feed fall near the touch: a change's level is first looked for
# among the best TOP_LEVELS prices of its side (a binary search of 4 comparisons), the rest of
# the side only when its price lies beyond them.
TOP_LEVELS = 16


class LocalBook:
    """Each side is two parallel lists kept in ascending price order: its prices and their
    quantities (bids: the best last; asks: the best first). A change finds its level by binary
    search, starting among the best TOP_LEVELS; a level that comes or goes is one list insert or
    delete. The best prices (the crossed-book check on every message) are read in O(1), never
    by sorting, and a price is never hashed (a fresh Decimal's hash costs more than the search).
    """

    __slots__ = (
        "_ask_keys",
        "_ask_quantities",
        "_bid_keys",
        "_bid_quantities",
        "_checksum",
        "_in_flight",
        "_verified",
        "exchange",
        "feed_down",
        "reason",
        "resyncs",
        "sequence",
        "status",
        "symbol",
        "updated_at",
        "verify_policy",
    )

    def __init__(self, exchange: str = "", symbol: str = "", verify: str = "frame") -> None:
        if verify not in VERIFY_POLICIES:
            raise ValueError(f"verify must be one of every, frame, off; not {verify!r}")
        self.exchange = exchange
        self.symbol = symbol
        self.verify_policy = verify
        self._bid_keys: list[Decimal] = []  # ascending: the best bid last
        self._bid_quantities: list[Decimal] = []  # the quantity at each of _bid_keys
        self._ask_keys: list[Decimal] = []  # ascending: the best ask first
        self._ask_quantities: list[Decimal] = []
        self.sequence: int | None = None
        self.status = SYNCING
        self.reason: str | None = None
        self.resyncs = 0
        self.updated_at: int | None = None  # received_at of the last message applied
        self._checksum: int | None = None
        self._verified = True
        self._in_flight = False  # deltas at or below the snapshot's sequence may still come
        # Why the engine's book is not the venue's (book_status not valid); None: it is, or
        # the exchange is not mirrored.
        self.feed_down: str | None = None

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    @property
    def valid(self) -> bool:
        """True only when the book may be shown as the market: live, not crossed, and (on a
        mirrored exchange) a true copy of the venue's."""
        return self.status == LIVE and self.feed_down is None and not self._crossed()

    # ------------------------------------------------------------------ reading
    def bids(self, depth: int | None = None) -> list[Level]:
        """(price, quantity) best (highest) first."""
        keys, quantities = self._bid_keys, self._bid_quantities
        if depth is not None:
            start = max(len(keys) - depth, 0) if depth > 0 else len(keys)
            keys, quantities = keys[start:], quantities[start:]
        return list(zip(reversed(keys), reversed(quantities), strict=True))

    def asks(self, depth: int | None = None) -> list[Level]:
        """(price, quantity) best (lowest) first."""
        keys, quantities = self._ask_keys, self._ask_quantities
        if depth is not None:
            keys, quantities = keys[: max(depth, 0)], quantities[: max(depth, 0)]
        return list(zip(keys, quantities, strict=True))

    def best_bid(self) -> Level | None:
        keys = self._bid_keys
        return (keys[-1], self._bid_quantities[-1]) if keys else None

    def best_ask(self) -> Level | None:
        keys = self._ask_keys
        return (keys[0], self._ask_quantities[0]) if keys else None

    def checksum(self) -> int:
        """The checksum of the local book as it is now."""
        return book_checksum(self.bids(CHECKSUM_DEPTH), self.asks(CHECKSUM_DEPTH))

    def _crossed(self) -> bool:
        bids, asks = self._bid_keys, self._ask_keys
        return bool(bids and asks and bids[-1] >= asks[0])

    # ------------------------------------------------------------------ state changes
    def resync(self, reason: str) -> str:
        """Stop trusting the book until the next snapshot; returns the reason."""
        if self.status != RESYNCING:
            self.resyncs += 1
        self.status = RESYNCING
        self.reason = reason
        return reason

    def apply(self, msg: dict[str, Any]) -> str | None:
        """Apply a book_snapshot or book_delta; the reason when the book must be resynced
        (a sequence fault, a crossed book, or, with verify="every", a checksum mismatch)."""
        kind = msg["type"]
        if kind == "book_delta":
            reason = self._apply_delta(msg)
            if reason is None and self.status == LIVE:
                bids, asks = self._bid_keys, self._ask_keys
                if (bids and asks and bids[-1] >= asks[0]) or self.verify_policy == "every":
                    return self._check()
            return reason
        if kind == "book_snapshot":
            return self._apply_snapshot(msg)
        if kind == "book_status":
            self.apply_status(msg)
        return None

    def apply_status(self, msg: dict[str, Any]) -> None:
        """A mirrored exchange's `book_status`: not valid (the reason kept) until a snapshot
        or a status saying valid."""
        if msg.get("valid"):
            self.feed_down = None
        else:
            self.feed_down = str(msg.get("reason") or "the venue's feed is down")

    def _apply_snapshot(self, msg: dict[str, Any]) -> str | None:
        if not self.exchange:
            self.exchange, self.symbol = msg["exchange"], msg["symbol"]
        self._bid_keys, self._bid_quantities = _side(msg["bids"])
        self._ask_keys, self._ask_quantities = _side(msg["asks"])
        self.sequence = msg["sequence"]
        self._checksum = msg.get("checksum")
        self._verified = False
        self._in_flight = True
        self.updated_at = msg.get("received_at")
        self.status, self.reason = LIVE, None
        self.feed_down = None  # sent once the venue's book is whole again
        return self._check()

    def _apply_delta(self, msg: dict[str, Any]) -> str | None:
        """Sequence checks and the level changes only: crossing and checksums are checked by
        `apply`/`verify` (the hot path of every stream consumer, kept flat)."""
        if self.status != LIVE:
            return None  # waiting for a snapshot: deltas until then are of no use
        sequence = msg["sequence"]
        expected = self.sequence + 1  # type: ignore[operator]  # LIVE: a snapshot set it
        if sequence != expected:
            if sequence < expected:
                if self._in_flight:
                    return None  # sent before the snapshot, already in it
                return self.resync(
                    f"duplicate or out-of-order delta: sequence {sequence} after {expected - 1}"
                )
            return self.resync(f"sequence gap: expected {expected}, got {sequence}")
        self._in_flight = False
        top = TOP_LEVELS
        bid_keys, bid_quantities = self._bid_keys, self._bid_quantities
        ask_keys, ask_quantities = self._ask_keys, self._ask_quantities
        for change in msg["changes"]:
            price = change["price"]
            if change["side"] == "bid":
                keys, quantities = bid_keys, bid_quantities
                size = len(keys)
                edge = size - top  # the bids' best TOP_LEVELS: keys[edge:]
                if edge <= 0:
                    i = bisect_left(keys, price)
                else:
                    i = bisect_left(keys, price, edge)
                    if i == edge:  # at or below the window's lowest price: look further down
                        i = bisect_left(keys, price, 0, edge)
            else:
                keys, quantities = ask_keys, ask_quantities
                size = len(keys)
                if size <= top:
                    i = bisect_left(keys, price)
                else:  # the asks' best TOP_LEVELS: keys[:top]
                    i = bisect_left(keys, price, 0, top)
                    if i == top:  # above the window's highest price: look further up
                        i = bisect_left(keys, price, top)
            quantity = change["quantity"]
            if i < size and keys[i] == price:
                if quantity:
                    quantities[i] = quantity
                else:
                    del keys[i]
                    del quantities[i]
            elif quantity:
                keys.insert(i, price)
                quantities.insert(i, quantity)
        self.sequence = sequence
        self._checksum = msg.get("checksum")
        self._verified = False
        self.updated_at = msg.get("received_at")
        return None

    def _check(self) -> str | None:
        if self._crossed():
            return self.resync(
                f"crossed book at sequence {self.sequence}: "
                f"bid {self._bid_keys[-1]} >= ask {self._ask_keys[0]}"
            )
        if self.verify_policy == "every":
            return self._verify()
        return None

    def verify(self) -> bool:
        """Check the book now: not crossed, and (policy every/frame) the last message's
        checksum against the local book. A failure puts it into "resyncing"; returns whether
        the book is valid."""
        if self.status == LIVE and self._crossed():
            self._check()
        if self.verify_policy != "off" and self.status == LIVE:
            self._verify()
        return self.status == LIVE

    def _verify(self) -> str | None:
        if self._verified or self._checksum is None:
            return None
        self._verified = True
        local = self.checksum()
        if local != self._checksum:
            return self.resync(
                f"checksum mismatch at sequence {self.sequence}: "
                f"local {local}, server {self._checksum}"
            )
        return None

    def snapshot(self, depth: int | None = None) -> dict[str, Any]:
        """The book as the REST order book answers it (for comparisons and NDJSON output)."""
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "sequence": self.sequence,
            "status": self.status,
            "bids": [{"price": p, "quantity": q} for p, q in self.bids(depth)],
            "asks": [{"price": p, "quantity": q} for p, q in self.asks(depth)],
        }


def _side(levels: Sequence[dict[str, Any]]) -> tuple[list[Decimal], list[Decimal]]:
    """A snapshot's side as (prices ascending, their quantities); a price given twice keeps
    its last quantity."""
    book = {level["price"]: level["quantity"] for level in levels}
    prices = sorted(book)
    return prices, [book[price] for price in prices]


class BookSync:
    """Local books of the instruments of a market stream, resynced when they go wrong.

        sync = BookSync(client, ["BINANCE:BTC/USDT"], channels=["book", "trades"])
        async for msg in sync:          # every stream message, after it was applied
            book = sync.books.get("BINANCE:BTC/USDT")
        await sync.verify_all()         # once per frame: crossing and checksums

    Sequence faults are caught on every delta; a crossed book and checksum mismatches when
    `verify_all()` runs (on every delta with verify="every"). A book that needs a resync
    yields `{"type": "resync", "instrument", "reason"}` and asks the server for a fresh
    snapshot (at most once per `retry_after` seconds while it waits). A lost connection marks
    every book "resyncing" until the replayed subscription's snapshot. `LocalBook.valid` is
    False for a crossed book even before `verify_all()` notices it.
    """

    def __init__(
        self,
        client: StreamClient,
        instruments: Sequence[str],
        channels: Sequence[str] = ("book",),
        *,
        verify: str = "frame",
        retry_after: float = 1.0,
        stream: MarketStream | None = None,
    ) -> None:
        if verify not in VERIFY_POLICIES:
            raise ValueError(f"verify must be one of every, frame, off; not {verify!r}")
        if "book" not in channels:
            channels = ["book", *channels]
        self.stream = stream or client.stream_market(instruments, channels)
        self.verify = verify
        self.retry_after = retry_after
        self.books: dict[str, LocalBook] = {}
        self.resyncs = 0
        self._pending: dict[str, float] = {}
        # symbol -> exchange -> book: two lookups of interned strings per message, no tuple.
        self._by_symbol: dict[str, dict[str, LocalBook]] = {}
        self._iterator: AsyncIterator[dict[str, Any]] | None = None

    def book(self, exchange: str, symbol: str) -> LocalBook:
        key = f"{exchange}:{symbol}"
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = LocalBook(exchange, symbol, self.verify)
        return book

    def _resync_message(self, book: LocalBook, reason: str) -> dict[str, Any]:
        """Mark `book` for a resync; the message that says so (its snapshot is asked for in
        `on_extra`, before the message is yielded)."""
        book.resync(reason)
        self.resyncs += 1
        self._pending[book.key] = time.monotonic()
        return {
            "type": "resync",
            "instrument": book.key,
            "reason": reason,
            "received_at": time.monotonic_ns(),
        }

    async def request_resync(self, book: LocalBook, reason: str) -> dict[str, Any]:
        message = self._resync_message(book, reason)
        await self.on_extra(message)
        return message

    async def verify_all(self) -> list[dict[str, Any]]:
        """Verify every live book's checksum now (policy "frame": call once per frame)."""
        out = []
        for book in self.books.values():
            if book.status == LIVE and not book.verify():
                out.append(await self.request_resync(book, book.reason or "checksum mismatch"))
        return out

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        # A stream of this client takes the sync as its hook and is iterated directly (one
        # async generator per message less); any other stream object is wrapped.
        if self._iterator is None:
            if hasattr(self.stream, "hook"):
                self.stream.hook = self
                self._iterator = self.stream.__aiter__()
            else:
                self._iterator = self._run()
        return self._iterator

    async def __anext__(self) -> dict[str, Any]:
        return await self.__aiter__().__anext__()

    async def _run(self) -> AsyncIterator[dict[str, Any]]:
        on_message, on_extra = self.on_message, self.on_extra
        async for message in self.stream:
            extra = on_message(message)
            yield message
            if extra:
                for item in extra:
                    await on_extra(item)
                    yield item

    def on_message(self, msg: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Fold one stream message in; the resync messages to yield after it, if any."""
        kind = msg["type"]
        if kind == "book_delta":
            book = self._by_symbol.get(msg["symbol"], _NO_BOOKS).get(msg["exchange"])
            if book is None:  # a delta of a book never snapshotted: ask for its snapshot
                book = self._book_for(msg)
                reason = None
            else:
                reason = book._apply_delta(msg)
                if reason is None and book.status == LIVE:
                    if self.verify != "every":
                        return None  # the common case: checked once per frame (verify_all)
                    reason = book._check()
                    if reason is None:
                        return None
        elif kind == "book_snapshot":
            book = self._book_for(msg)
            reason = book._apply_snapshot(msg)
            self._pending.pop(book.key, None)
        elif kind == "book_status":
            by_exchange = self._by_symbol.get(msg["symbol"], _NO_BOOKS)
            known = by_exchange.get(msg["exchange"])
            (known or self._book_for(msg)).apply_status(msg)
            return None  # the engine sends a fresh snapshot itself once the feed is whole
        else:
            if kind == "connection" and msg["state"] != "live":
                for book in self.books.values():
                    if book.status == LIVE:
                        book.resync(f"connection {msg['state']}")
                self._pending.clear()
            return None
        if reason is not None:
            return [self._resync_message(book, reason)]
        if book.status != LIVE:
            asked = self._pending.get(book.key)
            if asked is None or time.monotonic() - asked > self.retry_after:
                return [self._resync_message(book, book.reason or "resync")]
        return None

    def _book_for(self, msg: dict[str, Any]) -> LocalBook:
        exchange, symbol = msg["exchange"], msg["symbol"]
        by_exchange = self._by_symbol.setdefault(symbol, {})
        book = by_exchange.get(exchange)
        if book is None:
            book = by_exchange[exchange] = self.book(exchange, symbol)
        return book

    async def on_extra(self, message: dict[str, Any]) -> None:
        if message["type"] == "resync":
            await self.stream.resnapshot(message["instrument"])

    async def aclose(self) -> None:
        await self.stream.aclose()
