"""`LocalBook` against a naive reference book, message by message, and what one delta costs.

A Hypothesis state machine sends the same random stream messages (snapshots, deltas that add,
change and delete levels in a narrow price band so that books cross often, deltas out of
sequence) to a `LocalBook` and to `ReferenceBook` below (two dicts, sorted again on every
question), and after every step compares status, reason kind, sequence, both sides in full and
to a depth, the best prices, validity and the checksum.

The last test counts price comparisons: a delta to a deep book must cost a binary search per
level that comes or goes, never a sort of a whole side.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from velocimex_cli.client.book import LocalBook
from velocimex_cli.wire.streams import CHECKSUM_DEPTH, book_checksum

Level = tuple[Decimal, Decimal]


def prices(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Prices from low to high cents, each written two ways (100.1 and 100.10 are one level)."""
    return st.builds(
        lambda cents, wide: (
            Decimal(cents).scaleb(-2) if wide else Decimal(cents).scaleb(-2).normalize()
        ),
        st.integers(low, high),
        st.booleans(),
    )


# Each side up to 100 levels deep (deeper than LocalBook's window of best levels, TOP_LEVELS),
# bids and asks overlapping near 100.00 so that books cross now and then.
QUANTITIES = st.sampled_from(
    [Decimal(0), Decimal("0.000"), Decimal("0.5"), Decimal("1"), Decimal("2.25")]
)
CHANGE = st.one_of(
    st.tuples(st.just("bid"), prices(9900, 10002), QUANTITIES),
    st.tuples(st.just("ask"), prices(9998, 10100), QUANTITIES),
)
CHANGES = st.lists(CHANGE, max_size=6)
SNAPSHOT_QUANTITIES = QUANTITIES.filter(bool)


def snapshot_side(low: int, high: int) -> st.SearchStrategy[list[tuple[int, Decimal]]]:
    """A snapshot's side in cents: a thin one or a deep one."""
    level = st.tuples(st.integers(low, high), SNAPSHOT_QUANTITIES)
    return st.one_of(st.lists(level, max_size=6), st.lists(level, min_size=30, max_size=80))


class ReferenceBook:
    """What a local book must be, written as plainly as possible."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.sequence: int | None = None
        self.status = "syncing"
        self.in_flight = False

    def sorted_bids(self) -> list[Level]:
        return sorted(self.bids.items(), key=lambda level: level[0], reverse=True)

    def sorted_asks(self) -> list[Level]:
        return sorted(self.asks.items(), key=lambda level: level[0])

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def fault(self, reason: str) -> str:
        self.status = "resyncing"
        return reason

    def snapshot(self, sequence: int, bids: list[Level], asks: list[Level]) -> str | None:
        """The fault this message shows, if any."""
        self.bids, self.asks = dict(bids), dict(asks)
        self.sequence, self.status, self.in_flight = sequence, "live", True
        return self.fault("crossed") if self.crossed() else None

    def delta(self, sequence: int, changes: list[tuple[str, Decimal, Decimal]]) -> str | None:
        if self.status != "live":
            return None
        assert self.sequence is not None
        if sequence <= self.sequence:
            return None if self.in_flight else self.fault("duplicate")
        if sequence > self.sequence + 1:
            return self.fault("sequence gap")
        self.in_flight = False
        for side, price, quantity in changes:
            book = self.bids if side == "bid" else self.asks
            if quantity:
                book[price] = quantity
            else:
                book.pop(price, None)
        self.sequence = sequence
        return self.fault("crossed") if self.crossed() else None


def snapshot_message(sequence: int, bids: list[Level], asks: list[Level]) -> dict[str, Any]:
    return {
        "type": "book_snapshot",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "sequence": sequence,
        "bids": [{"price": p, "quantity": q} for p, q in bids],
        "asks": [{"price": p, "quantity": q} for p, q in asks],
    }


def delta_message(sequence: int, changes: list[tuple[str, Decimal, Decimal]]) -> dict[str, Any]:
    rows = [{"side": side, "price": p, "quantity": q} for side, p, q in changes]
    return {"type": "book_delta", "exchange": "BINANCE", "symbol": "BTC/USDT",
            "sequence": sequence, "changes": rows}  # fmt: skip


class LocalBookModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = LocalBook(verify="off")
        self.reference = ReferenceBook()
        self.next_sequence = 1

    def _send(self, message: dict[str, Any], follow: Any) -> None:
        """Apply `message` to the book and `follow` to the reference: a reason is returned
        exactly when the reference enters "resyncing", and it names the same fault."""
        reason = self.book.apply(message)
        fault = follow()
        if fault is None:
            assert reason is None
        else:
            assert reason is not None and fault in reason

    @rule(
        bids=snapshot_side(9900, 10000),
        asks=snapshot_side(10000, 10100),
    )
    def snapshot(self, bids: list[tuple[int, Decimal]], asks: list[tuple[int, Decimal]]) -> None:
        bid_levels = list(dict((Decimal(c).scaleb(-2), q) for c, q in bids).items())
        ask_levels = list(dict((Decimal(c).scaleb(-2), q) for c, q in asks).items())
        sequence = self.next_sequence
        self.next_sequence += 1
        self._send(
            snapshot_message(sequence, bid_levels, ask_levels),
            lambda: self.reference.snapshot(sequence, bid_levels, ask_levels),
        )

    @rule(changes=CHANGES, late=st.booleans())
    def delta(self, changes: list[tuple[str, Decimal, Decimal]], late: bool) -> None:
        """The next delta; or (late) one already sent before the last snapshot."""
        sequence = self.next_sequence - 1 if late else self.next_sequence
        if not late:
            self.next_sequence += 1
        self._send(
            delta_message(sequence, changes), lambda: self.reference.delta(sequence, changes)
        )

    @rule(skip=st.integers(1, 3), changes=CHANGES)
    def gap(self, skip: int, changes: list[tuple[str, Decimal, Decimal]]) -> None:
        self.next_sequence += skip
        self.delta(changes, late=False)

    @invariant()
    def same_book(self) -> None:
        book, reference = self.book, self.reference
        assert book.status == reference.status
        if reference.status == "syncing":
            return
        assert book.sequence == reference.sequence
        bids, asks = reference.sorted_bids(), reference.sorted_asks()
        assert book.bids() == bids and book.asks() == asks
        for depth in (0, 1, 3, 100, -1):
            assert book.bids(depth) == bids[: max(depth, 0)]
            assert book.asks(depth) == asks[: max(depth, 0)]
        assert book.best_bid() == (bids[0] if bids else None)
        assert book.best_ask() == (asks[0] if asks else None)
        assert book.valid == (reference.status == "live" and not reference.crossed())
        expected = book_checksum(bids[:CHECKSUM_DEPTH], asks[:CHECKSUM_DEPTH])
        assert book.checksum() == expected


TestLocalBookModel = LocalBookModel.TestCase
TestLocalBookModel.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)


def test_a_change_at_every_depth_lands_where_the_reference_puts_it() -> None:
    """100 levels a side, two cents apart: every price from below the deepest bid to above the
    deepest ask (on a level and between two) is set, changed and deleted in turn, and the book
    is compared with the reference after each delta: the window of best levels, its edges and
    the search beyond it."""
    bids = [(Decimal(9999 - 2 * i).scaleb(-2), Decimal(1)) for i in range(100)]
    asks = [(Decimal(10001 + 2 * i).scaleb(-2), Decimal(1)) for i in range(100)]
    book, reference = LocalBook(verify="off"), ReferenceBook()
    assert book.apply(snapshot_message(1, bids, asks)) is None
    reference.snapshot(1, bids, asks)
    sequence = 1
    for side, low, high in (("bid", 9795, 10000), ("ask", 10000, 10205)):
        for cents in range(low, high + 1):
            price = Decimal(cents).scaleb(-2)
            before = dict(bids if side == "bid" else asks).get(price, Decimal(0))
            for quantity in (Decimal(7), Decimal(0), before):
                sequence += 1
                changes = [(side, price, quantity)]
                assert book.apply(delta_message(sequence, changes)) is None
                assert reference.delta(sequence, changes) is None
                assert book.bids() == reference.sorted_bids(), (side, price, quantity)
                assert book.asks() == reference.sorted_asks(), (side, price, quantity)
    assert book.bids() == bids and book.asks() == asks


class CountedPrice(Decimal):
    """A price that counts how often it is compared (sorting and binary searches use `<`)."""

    comparisons = 0

    def __lt__(self, other: object) -> bool:
        CountedPrice.comparisons += 1
        return Decimal.__lt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        CountedPrice.comparisons += 1
        return Decimal.__gt__(self, other)  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        CountedPrice.comparisons += 1
        return Decimal.__le__(self, other)  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        CountedPrice.comparisons += 1
        return Decimal.__ge__(self, other)  # type: ignore[operator]


def test_a_delta_to_a_deep_book_costs_binary_searches_not_a_sort() -> None:
    """2,000 levels a side; 200 deltas each add a level and delete one on both sides (the
    crossed-book check runs on each): a sort of one side alone would take ~2,000 comparisons
    per delta; binary searches take ~11 per level that comes or goes."""
    depth = 2000
    bids = [(CountedPrice(50_000 - i), Decimal(1)) for i in range(depth)]
    asks = [(CountedPrice(50_001 + i), Decimal(1)) for i in range(depth)]
    book = LocalBook(verify="frame")
    assert book.apply(snapshot_message(1, bids, asks)) is None
    CountedPrice.comparisons = 0
    deltas = 200
    for i in range(deltas):
        changes = [
            ("bid", CountedPrice(50_000 - i), Decimal(0)),  # the best bid goes
            ("bid", CountedPrice(50_000 - depth - i), Decimal(2)),  # a deep one comes
            ("ask", CountedPrice(50_001 + i), Decimal(0)),
            ("ask", CountedPrice(50_001 + depth + i), Decimal(2)),
            ("ask", CountedPrice(50_500), Decimal(3)),  # a quantity change
        ]
        assert book.apply(delta_message(2 + i, changes)) is None
    per_delta = CountedPrice.comparisons / deltas
    assert per_delta <= 4 * 14, f"{per_delta:.0f} price comparisons per delta"
    assert book.valid and len(book.bids()) == len(book.asks()) == depth
    assert book.best_bid() == (Decimal(50_000 - deltas), Decimal(1))
    assert book.best_ask() == (Decimal(50_001 + deltas), Decimal(1))
