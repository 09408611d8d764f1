"""A mirrored exchange's `book_status` on the book channel: while it says the engine's book is
not the venue's, the local book is not valid (it keeps following the engine's deltas and keeps
the reason), and it is valid again on the next snapshot or a status saying so."""

from __future__ import annotations

from decimal import Decimal

from velocimex_cli.client.book import BookSync, LocalBook
from velocimex_cli.wire.streams import book_checksum, book_status_message

D = Decimal
GAP = "sequence gap: update 1204 after 1190"


def snapshot(sequence: int) -> dict:
    bids, asks = [(D("100.00"), D("1.0"))], [(D("101.00"), D("2.0"))]
    return {
        "type": "book_snapshot",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": sequence,
        "timestamp": "2026-11-24T15:00:00.000000Z",
        "bids": [{"price": p, "quantity": q} for p, q in bids],
        "asks": [{"price": p, "quantity": q} for p, q in asks],
        "checksum": book_checksum(bids, asks),
    }


def delta(sequence: int, price: str, quantity: str) -> dict:
    return {
        "type": "book_delta",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": sequence,
        "timestamp": "2026-11-24T15:00:01.000000Z",
        "changes": [{"side": "bid", "price": D(price), "quantity": D(quantity)}],
    }


def status(valid: bool, reason: str | None = None) -> dict:
    return book_status_message("BINANCE", "BTC/USDT", valid, reason, "2026-11-24T15:00:02.000000Z")


def test_a_book_whose_feed_is_down_is_not_valid_until_its_next_snapshot() -> None:
    book = LocalBook("BINANCE", "BTC/USDT")
    assert book.apply(snapshot(10)) is None and book.valid and book.feed_down is None
    assert book.apply(status(False, GAP)) is None
    assert not book.valid and book.feed_down == GAP
    # The engine's book still changes (a user's order): the local copy follows it.
    assert book.apply(delta(11, "99.50", "3.0")) is None
    assert book.sequence == 11 and book.bids()[1] == (D("99.50"), D("3.0"))
    assert not book.valid and book.status == "live"
    assert book.apply(snapshot(12)) is None
    assert book.valid and book.feed_down is None
    book.apply(status(False, None))
    assert not book.valid and book.feed_down == "the venue's feed is down"
    book.apply(status(True))
    assert book.valid and book.feed_down is None


def test_book_sync_keeps_the_status_on_the_book_and_asks_for_no_snapshot() -> None:
    sync = BookSync(object(), ["BINANCE:BTC/USDT"], stream=object())  # type: ignore[arg-type]
    assert sync.on_message(snapshot(5)) is None
    book = sync.books["BINANCE:BTC/USDT"]
    assert book.valid
    # The engine sends a fresh snapshot itself once the feed is whole: no resync is asked.
    assert sync.on_message(status(False, GAP)) is None
    assert not book.valid and book.feed_down == GAP
    assert sync.on_message(delta(6, "99.00", "1.0")) is None
    assert book.sequence == 6 and not book.valid
    assert sync.on_message(snapshot(7)) is None
    assert book.valid and sync.resyncs == 0
    # Another instrument's status leaves this book alone.
    sync.on_message({**status(False, GAP), "symbol": "ETH/USDT"})
    assert book.valid and not sync.books["BINANCE:ETH/USDT"].valid
