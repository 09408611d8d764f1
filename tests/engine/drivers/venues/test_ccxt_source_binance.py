"""CcxtSource on Binance, through unmodified ccxt against the local fake Binance: the events it
yields, applied to a plain book, equal the venue's true book after each step and each fault."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.engine.drivers.venues.ccxt_reader import Reader, clock, fast_sleep, watching
from tests.fakes.binance import FakeBinance
from velocimex_cli.engine.drivers.venues.ccxt_source import CcxtSource
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    FeedDown,
    MarketSpec,
    UnknownSymbol,
    VenueUnavailable,
)

pytestmark = pytest.mark.usefixtures("loopback_only")


def run(scenario: Callable[[FakeBinance], Awaitable[None]], *, up: bool = True) -> None:
    async def main() -> None:
        async with FakeBinance() as fake:
            if up:
                await fake.server.come_up()
            await scenario(fake)

    asyncio.run(main())


def seed(fake: FakeBinance) -> None:
    fake.set_levels(
        "BTCUSDT",
        bids=[("100.00", "1.5"), ("99.99", "2"), ("99.50", "7")],
        asks=[("100.01", "1"), ("100.05", "0.25")],
    )


def test_markets_are_the_exchange_info_filters_exactly() -> None:
    async def scenario(fake: FakeBinance) -> None:
        source = CcxtSource("binance", fake.config(), clock)
        try:
            specs = await source.markets(["BTC/USDT", "ETH/USDT"])
        finally:
            await source.close()
        assert specs == [
            MarketSpec(
                "BTC/USDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"),
                Decimal("0.00001"), Decimal("5"), Decimal("0.001"), Decimal("0.001"),
            ),
            MarketSpec(
                "ETH/USDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"),
                Decimal("0.0001"), Decimal("5"), Decimal("0.001"), Decimal("0.001"),
            ),
        ]  # fmt: skip
        # spot only: exchangeInfo of /api/v3, never the futures lists
        assert fake.server.requests == ["GET /api/v3/exchangeInfo"]

    run(scenario)


def test_an_unknown_symbol_is_refused_by_markets_and_watch() -> None:
    async def scenario(fake: FakeBinance) -> None:
        source = CcxtSource("binance", fake.config(), clock)
        try:
            with pytest.raises(UnknownSymbol, match="DOGE/USDT"):
                await source.markets(["BTC/USDT", "DOGE/USDT"])
            events = source.watch("DOGE/USDT")
            with pytest.raises(UnknownSymbol, match="DOGE/USDT"):
                await asyncio.wait_for(anext(events), 5)
        finally:
            await source.close()

    run(scenario)


def test_the_book_follows_every_step_and_trades_keep_their_aggressor() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
            steps: list[dict[str, Any]] = [
                {"bids": [("100.00", "0.5")]},  # a level shrinks
                {"asks": [("100.01", "0")], "bids": [("100.02", "3")]},  # one goes, one comes
                {"bids": [("99.99", "0"), ("99.50", "0")]},  # two go at once
                {"asks": [("101.00", "12.125")]},
            ]
            for step in steps:
                fake.set_levels("BTCUSDT", **step)
                await reader.until_book(fake.book("BTCUSDT"))
            changes = [e for e in reader.log if isinstance(e, BookChanges)]
            # each update carries only the levels it changed, never the whole book
            assert [len(c.bids) + len(c.asks) for c in changes] == [1, 2, 2, 1]
            await fake.server.subscribed("btcusdt@trade")
            fake.trade("BTCUSDT", "100.05", "0.25", "buy")
            fake.trade("BTCUSDT", "100.02", "1.5", "sell")
            await reader.until(lambda r: len(r.trades) == 2)
            assert [(t.price, t.quantity, t.taker_side) for t in reader.trades] == [
                (Decimal("100.05"), Decimal("0.25"), "buy"),
                (Decimal("100.02"), Decimal("1.5"), "sell"),
            ]
            assert reader.downs == []

    run(scenario)


def test_a_burst_of_updates_is_read_in_batches_giving_the_same_book() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
            read = len(reader.log)
            for i in range(40):  # sent at once: one price changed again and again, others
                fake.set_levels("BTCUSDT", bids=[("99.99", f"{i + 1}")])  # come and go
                fake.set_levels("BTCUSDT", asks=[(f"{101 + i % 7}.00", "0" if i % 2 else "1")])
            await reader.until_book(fake.book("BTCUSDT"))
            batches = [e for e in reader.log[read:] if isinstance(e, BookChanges)]
            assert 1 <= len(batches) < 80  # 80 updates, read as they arrive, batched
            # a batch holds each level once, at its size after the batch's last update
            for batch in batches:
                prices = [p for p, _ in batch.bids] + [p for p, _ in batch.asks]
                assert len(prices) == len(set(prices))
            assert reader.downs == []

    run(scenario)


def test_a_sequence_gap_halts_then_resyncs_from_a_new_snapshot() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
            fake.gap("BTCUSDT", bids=[("99.99", "0")])  # lost on the way
            fake.set_levels("BTCUSDT", asks=[("100.01", "4")])
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("sequence gap: update ")
            await reader.until_book(fake.book("BTCUSDT"))
            assert reader.snapshots == 2
            fake.set_levels("BTCUSDT", bids=[("99.98", "1")])
            await reader.until_book(fake.book("BTCUSDT"))

    run(scenario)


def test_a_dropped_connection_halts_then_resyncs() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
            await fake.server.subscribed("btcusdt@trade")  # both streams up, then both go
            fake.server.drop()
            await reader.until(lambda r: bool(r.downs))
            assert "closed" in reader.downs[0].reason
            fake.set_levels("BTCUSDT", bids=[("100.00", "9")])  # while reconnecting
            await reader.until_book(fake.book("BTCUSDT"))
            fake.set_levels("BTCUSDT", asks=[("100.05", "0")])
            await reader.until_book(fake.book("BTCUSDT"))
            await fake.server.subscribed("btcusdt@trade")
            fake.trade("BTCUSDT", "100.01", "1", "buy")
            await reader.until(lambda r: len(r.trades) == 1)

    run(scenario)


def test_a_stalled_feed_halts_then_resyncs_on_a_new_connection() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT", stall_after=0.3) as (
            _,
            reader,
        ):
            await reader.until_book(fake.book("BTCUSDT"))
            fake.server.stall()
            fake.set_levels("BTCUSDT", bids=[("100.00", "0")])  # never arrives
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("stalled: no message for ")
            await reader.until_book(fake.book("BTCUSDT"))
            # the trades' own connection stalled too: it is replaced as well
            await fake.server.subscribed("btcusdt@trade")
            fake.trade("BTCUSDT", "100.01", "0.5", "buy")
            await reader.until(lambda r: len(r.trades) == 1)

    run(scenario)


@contextlib.asynccontextmanager
async def busy_book(fake: FakeBinance) -> AsyncIterator[None]:
    """The book changes every 50 ms meanwhile (its connection is never quiet)."""

    async def change() -> None:
        for i in range(10**6):
            fake.set_levels("BTCUSDT", bids=[("99.00", str(i % 5 + 1))])
            await asyncio.sleep(0.05)

    task = asyncio.create_task(change())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def probes(fake: FakeBinance) -> int:
    return sum(1 for m in fake.received if m.get("method") == "LIST_SUBSCRIPTIONS")


def test_a_quiet_tape_is_asked_whether_its_connection_lives_and_is_never_halted() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT", stall_after=1.0) as (
            _,
            reader,
        ):
            await reader.until_book(fake.book("BTCUSDT"))
            await fake.server.subscribed("btcusdt@trade")
            async with busy_book(fake):  # no trade for over 3 stall_afters
                await reader.until(lambda r: probes(fake) >= 3, timeout=20)
            assert reader.downs == []
            fake.trade("BTCUSDT", "100.01", "0.5", "buy")
            await reader.until(lambda r: len(r.trades) == 1)
            await reader.until_book(fake.book("BTCUSDT"))

    run(scenario)


def test_a_trade_stream_that_stalls_alone_halts_until_the_book_then_reconnects() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT", stall_after=1.0) as (
            _,
            reader,
        ):
            await reader.until_book(fake.book("BTCUSDT"))
            await fake.server.subscribed("btcusdt@trade")
            async with busy_book(fake):
                fake.stall_trades()  # the book's connection goes on
                await reader.until(lambda r: bool(r.downs), timeout=20)
                assert reader.downs[0].reason.startswith("trade stream stalled: no message for ")
                assert "no answer to a probe" in reader.downs[0].reason
                await reader.until(lambda r: r.valid)  # whole again with the next book update
                await fake.server.subscribed("btcusdt@trade")  # on a new connection
            await reader.until_book(fake.book("BTCUSDT"))
            fake.trade("BTCUSDT", "100.01", "0.5", "buy")
            await reader.until(lambda r: len(r.trades) == 1)
            assert len(reader.downs) == 1

    run(scenario)


def test_unreachable_at_start_then_up() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        source = CcxtSource("binance", fake.config(), clock, sleep=fast_sleep)
        try:
            with pytest.raises(VenueUnavailable) as refused:
                await source.markets(["BTC/USDT"])
            assert "binance unreachable" in refused.value.reason
            reader = Reader(source.watch("BTC/USDT"))
            await reader.until(lambda r: bool(r.downs))
            assert reader.downs[0].reason.startswith("binance unreachable")
            await fake.server.come_up()
            await reader.until_book(fake.book("BTCUSDT"))
            assert len(await source.markets(["BTC/USDT"])) == 1
            await reader.events.aclose()  # type: ignore[attr-defined]
        finally:
            await source.close()

    run(scenario, up=False)


def test_the_venue_config_is_merged_into_ccxts() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        config = {**fake.config(), "options": {"watchOrderBookRate": "1000"}}
        async with watching("binance", config, "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
        subscribed = [p for m in fake.received for p in m.get("params", [])]
        assert "btcusdt@depth@1000ms" in subscribed  # the user's option, kept
        fake.rest_delay = 2.0
        slow = CcxtSource("binance", {**fake.config(), "timeout": 200}, clock)
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(VenueUnavailable, match="unreachable: RequestTimeout: "):
                await slow.markets(["BTC/USDT"])
            assert asyncio.get_running_loop().time() - started < 1.5  # the 200 ms timeout
        finally:
            await slow.close()

    run(scenario)


def test_feed_down_is_yielded_once_per_outage() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        async with watching("binance", fake.config(), "BTC/USDT") as (_, reader):
            await reader.until_book(fake.book("BTCUSDT"))
            fake.server.drop()  # the book's and the trades' connections both go
            await reader.until(lambda r: bool(r.downs))
            await reader.until_book(fake.book("BTCUSDT"))
            assert len(reader.downs) == 1
            assert all(isinstance(d, FeedDown) for d in reader.downs)

    run(scenario)


def test_retries_back_off_through_the_injected_sleep_and_never_end() -> None:
    async def scenario(fake: FakeBinance) -> None:
        seed(fake)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            await asyncio.sleep(0.001)

        source = CcxtSource("binance", fake.config(), clock, sleep=sleep, max_backoff=2.0)
        events = source.watch("BTC/USDT")
        try:
            reader = Reader(events)
            await reader.until(lambda r: bool(r.downs))
            while len(waits) < 12:  # each of the book and trade loops retrying
                await asyncio.sleep(0.01)
            assert waits[:2] == [0.5, 0.5] and set(waits) == {0.5, 1.0, 2.0}
            assert len(reader.downs) == 1  # one outage, one FeedDown, however many retries
            await fake.server.come_up()
            await reader.until_book(fake.book("BTCUSDT"))
        finally:
            await events.aclose()
            await source.close()

    run(scenario, up=False)
