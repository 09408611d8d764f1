"""The ccxt source tests' reader: a plain dict book a source's events are applied to, and how a
source is opened on a fake venue (its backoff a hundredth as long)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.drivers.venues.ccxt_source import CcxtSource
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    BookSnapshot,
    FeedDown,
    FeedEvent,
    TradePrint,
    exact,
)

PlainBook = dict[str, dict[Decimal, Decimal]]


class Reader:
    """One symbol's events applied to a plain dict book, as the engine would apply them."""

    def __init__(self, events: AsyncIterator[FeedEvent]) -> None:
        self.events = events
        self.book: PlainBook = {"bids": {}, "asks": {}}
        self.valid = False
        self.downs: list[FeedDown] = []
        self.trades: list[TradePrint] = []
        self.snapshots = 0
        self.log: list[FeedEvent] = []

    def apply(self, event: FeedEvent) -> None:
        self.log.append(event)
        if isinstance(event, BookSnapshot):
            self.book = {
                "bids": {exact(p): exact(q) for p, q in event.bids},
                "asks": {exact(p): exact(q) for p, q in event.asks},
            }
            self.valid = True
            self.snapshots += 1
        elif isinstance(event, BookChanges):
            assert self.valid, "BookChanges while the book is not valid"
            for name, levels in (("bids", event.bids), ("asks", event.asks)):
                for price, qty in levels:
                    if qty:
                        self.book[name][exact(price)] = exact(qty)
                    else:
                        self.book[name].pop(exact(price), None)
        elif isinstance(event, FeedDown):
            self.valid = False
            self.downs.append(event)
        elif isinstance(event, TradePrint):
            self.trades.append(event)

    async def until(self, done: Callable[[Reader], bool], timeout: float = 10.0) -> None:
        """Read events until `done(self)`; fail with what was read if it never is."""
        deadline = time.monotonic() + timeout
        while not done(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out; book {self.book}, valid {self.valid}, last events {self.log[-5:]}"
                )
            try:
                event = await asyncio.wait_for(anext(self.events), left)
            except TimeoutError:
                continue
            self.apply(event)

    async def until_book(self, expected: PlainBook, timeout: float = 10.0) -> None:
        try:
            await self.until(lambda r: r.valid and r.book == expected, timeout)
        except AssertionError:
            differ = {
                side: sorted(set(self.book[side].items()) ^ set(expected[side].items()))
                for side in ("bids", "asks")
            }
            raise AssertionError(
                f"the book differs from the venue's (valid {self.valid}): {differ}"
            ) from None


def clock() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def fast_sleep(seconds: float) -> None:
    """The sources' backoff in tests: the same order of waits, a hundredth as long."""
    await asyncio.sleep(min(seconds / 100, 0.05))


@contextlib.asynccontextmanager
async def watching(
    venue: str, config: dict[str, Any], symbol: str, **options: Any
) -> AsyncIterator[tuple[CcxtSource, Reader]]:
    """A CcxtSource on `config` watching `symbol`, its events read into a Reader; closed after."""
    source = CcxtSource(venue, config, clock, sleep=fast_sleep, **options)
    events = source.watch(symbol)
    try:
        yield source, Reader(events)
    finally:
        await events.aclose()
        await source.close()
