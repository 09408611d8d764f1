"""CcxtSource on Coinbase Advanced Trade, through unmodified ccxt against the local fake
Coinbase: the events it yields, applied to a plain book, equal the venue's true book after each
step and each fault, the connection's sequence_num continuity included."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from tests.engine.drivers.venues.ccxt_reader import Reader, clock, fast_sleep, watching
from tests.fakes.coinbase import FakeCoinbase
from velocimex_cli.engine.drivers.venues.ccxt_source import CcxtSource
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    MarketSpec,
    UnknownSymbol,
    VenueUnavailable,
)

pytestmark = pytest.mark.usefixtures("loopback_only")


def run(scenario: Callable[[FakeCoinbase], Awaitable[None]], *, up: bool = True) -> None:
    async def main() -> None:
        async with FakeCoinbase() as fake:
            if up:
                await fake.server.come_up()
            await scenario(fake)

    asyncio.run(main())


def seed(fake: FakeCoinbase) -> None:
    fake.set_levels(
        "BTC-USD",
        bids=[("60000.01", "0.5"), ("59999.99", "1.25"), ("59990.00", "3")],
        asks=[("60000.02", "0.75"), ("60001.50", "2")],
    )


def test_markets_are_the_products_exactly() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        source = CcxtSource("coinbase", fake.config(), clock)
        try:
            specs = await source.markets(["BTC/USD"])
            with pytest.raises(UnknownSymbol, match="DOGE/USD"):
                await source.markets(["BTC/USD", "DOGE/USD"])
        finally:
            await source.close()
        # fees: ccxt's statement of Coinbase's first tier (the account's tier needs a key)
        assert specs == [
            MarketSpec(
                "BTC/USD", "BTC", "USD", Decimal("0.01"), Decimal("0.00000001"),
                Decimal("0.00000001"), Decimal("1"), Decimal("0.012"), Decimal("0.006"),
            )
        ]  # fmt: skip

    run(scenario)


def test_the_book_follows_every_step_and_trades_keep_their_aggressor() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        fake.trade("BTC-USD", "59000.00", "4", "sell")  # before we watch: never yielded
        seed(fake)
        async with watching("coinbase", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC-USD"))
            fake.set_levels("BTC-USD", bids=[("60000.01", "0")])
            await reader.until_book(fake.book("BTC-USD"))
            fake.set_levels("BTC-USD", bids=[("60000.00", "7")], asks=[("60000.02", "0.25")])
            await reader.until_book(fake.book("BTC-USD"))
            changes = [e for e in reader.log if isinstance(e, BookChanges)]
            assert [len(c.bids) + len(c.asks) for c in changes] == [1, 2]
            await fake.server.subscribed("market_trades:BTC-USD")
            fake.trade("BTC-USD", "60000.02", "0.5", "buy")
            fake.trade("BTC-USD", "60000.00", "0.125", "sell")
            await reader.until(lambda r: len(r.trades) == 2)
            assert [(t.price, t.quantity, t.taker_side) for t in reader.trades] == [
                (Decimal("60000.02"), Decimal("0.5"), "buy"),
                (Decimal("60000.00"), Decimal("0.125"), "sell"),
            ]
            assert reader.downs == []

    run(scenario)


def test_a_sequence_gap_halts_then_resyncs_on_a_new_connection() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        seed(fake)
        async with watching("coinbase", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC-USD"))
            fake.set_levels("BTC-USD", asks=[("60001.50", "0")], publish=False)  # lost
            fake.set_levels("BTC-USD", bids=[("59999.99", "2")])
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("sequence gap: message ")
            await reader.until_book(fake.book("BTC-USD"))
            assert reader.snapshots == 2
            fake.set_levels("BTC-USD", asks=[("60003.00", "1")])
            await reader.until_book(fake.book("BTC-USD"))

    run(scenario)


def test_a_dropped_connection_halts_then_resyncs() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        seed(fake)
        async with watching("coinbase", fake.config(), "BTC/USD") as (_, reader):
            await reader.until_book(fake.book("BTC-USD"))
            await fake.server.subscribed("market_trades:BTC-USD")  # both streams up, then both go
            fake.server.drop()
            await reader.until(lambda r: bool(r.downs))
            assert "closed" in reader.downs[0].reason
            fake.set_levels("BTC-USD", bids=[("60000.01", "9")])
            await reader.until_book(fake.book("BTC-USD"))
            assert len(reader.downs) == 1

    run(scenario)


def test_unreachable_at_start_then_up() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        seed(fake)
        source = CcxtSource("coinbase", fake.config(), clock, sleep=fast_sleep)
        events = source.watch("BTC/USD")
        try:
            with pytest.raises(VenueUnavailable, match=r"^coinbase unreachable: "):
                await source.markets(["BTC/USD"])
            reader = Reader(events)
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("coinbase unreachable: ")
            await fake.server.come_up()
            await reader.until_book(fake.book("BTC-USD"))
            await fake.server.subscribed("market_trades:BTC-USD")
            fake.trade("BTC-USD", "50001.0" if "coinbase" == "kraken" else "60000.02", "1", "buy")
            await reader.until(lambda r: len(r.trades) == 1)
        finally:
            await events.aclose()
            await source.close()

    run(scenario, up=False)


def test_a_stalled_feed_halts_then_resyncs_on_a_new_connection() -> None:
    async def scenario(fake: FakeCoinbase) -> None:
        seed(fake)
        async with watching("coinbase", fake.config(), "BTC/USD", stall_after=0.3) as (
            _,
            reader,
        ):
            await reader.until_book(fake.book("BTC-USD"))
            fake.server.stall()
            fake.set_levels("BTC-USD", asks=[("60000.02", "0")])  # never arrives
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("stalled: no message for ")
            await reader.until_book(fake.book("BTC-USD"))

    run(scenario)
