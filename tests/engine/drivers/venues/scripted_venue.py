"""An engine mirroring a scripted venue: the real engine app over HTTP and WebSocket, fed by
an in-memory `VenueSource` whose events the test pushes, one queue per symbol."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.engine.api.conftest import OPEN_TIME, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.drivers.venues.feed import (
    BookChanges,
    BookSnapshot,
    FeedDown,
    FeedEvent,
    MarketSpec,
    TradePrint,
    UnknownSymbol,
    VenueUnavailable,
)
from velocimex_cli.engine.drivers.venues.spec import VenueMirror

BTC = MarketSpec(
    symbol="BTC/USDT",
    base="BTC",
    quote="USDT",
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.00001"),
    min_quantity=Decimal("0.00001"),
    min_notional=Decimal("5"),
    taker_fee=Decimal("0.001"),
    maker_fee=Decimal("0.001"),
)
BINANCE = VenueMirror("binance", ("BTC/USDT",))
D = Decimal


def at(seconds: float) -> datetime:
    """An exchange time, seconds after the engine's pinned clock."""
    return OPEN_TIME + timedelta(seconds=seconds)


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


def snapshot(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]], t: float = 0):
    return BookSnapshot("BTC/USDT", levels(*bids), levels(*asks), at(t), at(t + 0.005))


def changes(bids: Sequence[tuple[str, str]] = (), asks: Sequence[tuple[str, str]] = (), t=1.0):
    return BookChanges("BTC/USDT", levels(*bids), levels(*asks), at(t), at(t + 0.020))


def trade(price: str, quantity: str, taker: str, t: float = 1.0) -> TradePrint:
    return TradePrint("BTC/USDT", D(price), D(quantity), taker, None, at(t), at(t + 0.003))  # type: ignore[arg-type]


def down(reason: str) -> FeedDown:
    return FeedDown("BTC/USDT", reason, at(0))


class ScriptedSource:
    """A `VenueSource` the test drives from its own thread: `push` events, `settle` waits
    until the engine has applied every one."""

    def __init__(self, specs: Sequence[MarketSpec] = (BTC,), unreachable: str | None = None):
        self.venue = "binance"
        self.specs = list(specs)
        self.unreachable = unreachable
        self.queues: dict[str, queue.Queue[FeedEvent | BaseException]] = {}
        self.pushed: dict[str, int] = {}
        self.applied: dict[str, int] = {}
        self.lock = threading.Lock()
        self.market_calls = 0
        self.closed = False

    def _queue(self, symbol: str) -> queue.Queue[FeedEvent | BaseException]:
        with self.lock:
            if symbol not in self.queues:
                self.queues[symbol] = queue.Queue()
                self.pushed[symbol] = self.applied[symbol] = 0
            return self.queues[symbol]

    async def markets(self, symbols: Sequence[str]) -> list[MarketSpec]:
        self.market_calls += 1
        if self.unreachable is not None:
            raise VenueUnavailable(self.unreachable)
        known = {s.symbol: s for s in self.specs}
        missing = [s for s in symbols if s not in known]
        if missing:
            raise UnknownSymbol(f"binance lists no spot market {', '.join(missing)}")
        return [known[s] for s in symbols]

    async def watch(self, symbol: str) -> AsyncIterator[FeedEvent]:
        events = self._queue(symbol)
        while True:
            try:
                item = events.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.001)
                continue
            if isinstance(item, BaseException):
                self.applied[symbol] += 1
                raise item
            yield item
            self.applied[symbol] += 1  # the engine asked for the next: this one is applied

    async def close(self) -> None:
        self.closed = True

    def push(self, *events: FeedEvent | BaseException, symbol: str = "BTC/USDT") -> None:
        target = self._queue(symbol)
        for event in events:
            self.pushed[symbol] += 1
            target.put(event)
        self.settle()

    def settle(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while any(self.applied[s] < self.pushed[s] for s in self.pushed):
            if time.monotonic() > deadline:
                raise AssertionError("the engine did not apply the pushed events")
            time.sleep(0.002)
        time.sleep(0.01)  # the group commit of what they caused


async def no_wait(seconds: float) -> None:
    """Backoff without waiting (the delays are asserted through `retries`)."""
    retries.append(seconds)
    await asyncio.sleep(0.005)


retries: list[float] = []


class Mirrored:
    """The real engine app mirroring `source` as BINANCE, with a test client and a key."""

    def __init__(self, source: ScriptedSource, data_dir: Path | None, **overrides: Any) -> None:
        self.source = source
        values: dict[str, Any] = {
            "mirrors": (BINANCE,),
            "venue_sources": lambda mirror, config, clock: source,
            "venue_retry_sleep": no_wait,
            "data_dir": data_dir,
        }
        values.update(overrides)
        self.app = create_app(settings(**values))
        self.client = TestClient(self.app)

    def __enter__(self) -> Mirrored:
        self.client.__enter__()
        self.headers = auth_headers(self.app.state.runtime.keys)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def order(self, **fields: Any) -> Any:
        body = {"exchange": "BINANCE", "symbol": "BTC/USDT", "type": "limit", **fields}
        return self.client.post("/v1/trading/orders", json=body, headers=self.headers)

    def book(self) -> dict[str, list[tuple[Decimal, Decimal]]]:
        """The engine's book of BINANCE BTC/USDT, every level."""
        data = self.get("/v1/markets/BINANCE/orderbook/BTC/USDT", depth=1000)
        return {
            side: [(D(str(row["price"])), D(str(row["quantity"]))) for row in data[side]]
            for side in ("bids", "asks")
        }

    def status(self) -> dict[str, Any]:
        rows = self.get("/v1/markets/status")["markets"]
        return next(r for r in rows if r["exchange"] == "BINANCE")

    def wait_status(self, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            row = self.status()
            if row["status"] == wanted or time.monotonic() > deadline:
                return row
            time.sleep(0.01)

    def wait_loaded(self, timeout: float = 10.0) -> None:
        """Until the markets loaded and the symbol's watch asks for events."""
        deadline = time.monotonic() + timeout
        while "BTC/USDT" not in self.source.queues:
            if time.monotonic() > deadline:
                raise AssertionError("the mirror never watched BTC/USDT")
            time.sleep(0.005)
