"""CcxtSource on Kraken (WebSocket v2), through unmodified ccxt against the local fake Kraken:
the events it yields, applied to a plain book, equal the venue's true book after each step and
each fault, the CRC32 checksum included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from tests.engine.drivers.venues.ccxt_reader import Reader, clock, fast_sleep, watching
from tests.fakes.kraken import FakeKraken
from velocimex_cli.engine.drivers.venues.ccxt_source import CcxtSource
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    MarketSpec,
    UnknownSymbol,
    VenueUnavailable,
)

pytestmark = pytest.mark.usefixtures("loopback_only")


def run(scenario: Callable[[FakeKraken], Awaitable[None]], *, up: bool = True) -> None:
    async def main() -> None:
        async with FakeKraken() as fake:
            if up:
                await fake.server.come_up()
            await scenario(fake)

    asyncio.run(main())


def seed(fake: FakeKraken) -> None:
    # more than ten levels a side, so the checksum covers only the top of the book
    fake.set_levels(
        "BTC/USD",
        bids=[(f"{50000 - i}.5", f"0.{i + 1:03d}") for i in range(12)],
        asks=[(f"{50001 + i}.0", f"1.25{i}") for i in range(12)],
    )


def test_markets_are_the_asset_pairs_exactly() -> None:
    async def scenario(fake: FakeKraken) -> None:
        source = CcxtSource("kraken", fake.config(), clock)
        try:
            specs = await source.markets(["BTC/USD", "ETH/USD"])
            with pytest.raises(UnknownSymbol, match="DOGE/USD"):
                await source.markets(["DOGE/USD"])
        finally:
            await source.close()
        assert specs == [
            MarketSpec(
                "BTC/USD", "BTC", "USD", Decimal("0.1"), Decimal("0.00000001"),
                Decimal("0.00005"), Decimal("0.5"), Decimal("0.004"), Decimal("0.0025"),
            ),
            MarketSpec(
                "ETH/USD", "ETH", "USD", Decimal("0.01"), Decimal("0.00000001"),
                Decimal("0.002"), Decimal("0.5"), Decimal("0.004"), Decimal("0.0025"),
            ),
        ]  # fmt: skip

    run(scenario)


def test_the_book_follows_every_step_and_trades_keep_their_aggressor() -> None:
    async def scenario(fake: FakeKraken) -> None:
        fake.trade("BTC/USD", "49000.0", "5", "sell")  # before we watch: never yielded
        seed(fake)
        async with watching("kraken", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC/USD"))
            fake.set_levels("BTC/USD", bids=[("50000.5", "0")])  # the best bid goes
            await reader.until_book(fake.book("BTC/USD"))
            fake.set_levels("BTC/USD", bids=[("50000.7", "2.5")], asks=[("50001.0", "0.75")])
            await reader.until_book(fake.book("BTC/USD"))
            changes = [e for e in reader.log if isinstance(e, BookChanges)]
            assert [len(c.bids) + len(c.asks) for c in changes] == [1, 2]
            await fake.server.subscribed("trade:BTC/USD")
            fake.trade("BTC/USD", "50001.0", "0.5", "buy")
            fake.trade("BTC/USD", "50000.7", "0.125", "sell")
            await reader.until(lambda r: len(r.trades) == 2)
            assert [(t.price, t.quantity, t.taker_side) for t in reader.trades] == [
                (Decimal("50001.0"), Decimal("0.5"), "buy"),
                (Decimal("50000.7"), Decimal("0.125"), "sell"),
            ]
            assert reader.downs == []
        # full depth: the book channel at Kraken's deepest, without its trade replay
        subscribed = [m["params"] for m in fake.received if m.get("method") == "subscribe"]
        assert {"channel": "book", "symbol": ["BTC/USD"], "depth": 1000} in subscribed
        assert {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": False} in subscribed

    run(scenario)


def test_a_bad_checksum_halts_then_resubscribes_for_a_new_snapshot() -> None:
    async def scenario(fake: FakeKraken) -> None:
        seed(fake)
        async with watching("kraken", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC/USD"))
            fake.set_levels("BTC/USD", asks=[("50001.0", "3")], bad_checksum=True)
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("checksum mismatch: the book's CRC32 is ")
            await reader.until_book(fake.book("BTC/USD"))
            assert reader.snapshots == 2
            methods = [m.get("method") for m in fake.received if m.get("method") != "ping"]
            assert methods[-2:] == ["unsubscribe", "subscribe"], fake.received
            fake.set_levels("BTC/USD", bids=[("49999.5", "0")])
            await reader.until_book(fake.book("BTC/USD"))

    run(scenario)


def test_a_dropped_connection_halts_then_resyncs() -> None:
    async def scenario(fake: FakeKraken) -> None:
        seed(fake)
        async with watching("kraken", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC/USD"))
            await fake.server.subscribed("trade:BTC/USD")  # both streams up, then both go
            fake.server.drop()
            await reader.until(lambda r: bool(r.downs))
            assert "closed" in reader.downs[0].reason
            fake.set_levels("BTC/USD", bids=[("50000.5", "9")])
            await reader.until_book(fake.book("BTC/USD"))
            assert len(reader.downs) == 1

    run(scenario)


def test_a_stalled_feed_halts_then_resyncs_on_a_new_connection() -> None:
    async def scenario(fake: FakeKraken) -> None:
        seed(fake)
        async with watching("kraken", fake.config(), "BTC/USD", stall_after=0.3) as (
            _,
            reader,
        ):
            await reader.until_book(fake.book("BTC/USD"))
            fake.server.stall()
            fake.set_levels("BTC/USD", asks=[("50001.0", "0")])  # never arrives
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("stalled: no message for ")
            await reader.until_book(fake.book("BTC/USD"))

    run(scenario)


def test_unreachable_at_start_then_up() -> None:
    async def scenario(fake: FakeKraken) -> None:
        seed(fake)
        source = CcxtSource("kraken", fake.config(), clock, sleep=fast_sleep)
        events = source.watch("BTC/USD")
        try:
            with pytest.raises(VenueUnavailable, match=r"^kraken unreachable: "):
                await source.markets(["BTC/USD"])
            reader = Reader(events)
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("kraken unreachable: ")
            await fake.server.come_up()
            await reader.until_book(fake.book("BTC/USD"))
            await fake.server.subscribed("trade:BTC/USD")
            fake.trade("BTC/USD", "50001.0" if "kraken" == "kraken" else "60000.02", "1", "buy")
            await reader.until(lambda r: len(r.trades) == 1)
        finally:
            await events.aclose()
            await source.close()

    run(scenario, up=False)
