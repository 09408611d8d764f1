"""The harness of the mirrored-venue end-to-end tests (test_mirror_e2e.py): a real `vmx engine
start --mirror VENUE:SYMBOL --venue-config FILE` against a fake exchange of tests/fakes/ on a
background thread, read back through the public `vmx` commands; `held_resync` injects a fault
with the venue's snapshots held back and checks the halted state, then the resync."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.terminal import COLUMNS, LINES
from tests.e2e.venue_thread import VenueThread
from tests.fakes.binance import FakeBinance
from tests.fakes.coinbase import FakeCoinbase
from tests.fakes.kraken import FakeKraken
from tests.processes import VMX, Reader, make_env

Book = dict[str, dict[Decimal, Decimal]]


class GatedBinance(FakeBinance):
    """A fake Binance whose depth snapshots wait while `gate` is closed (a slow resync), so a
    test can look at the engine while the book is being resynced; `hold_snapshots` and
    `release_snapshots` as the Kraken and Coinbase fakes have them."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        super().__init__()

    async def _depth(self, request: Any) -> Any:  # type: ignore[override]
        await self.gate.wait()
        return super()._depth(request)

    def hold_snapshots(self) -> None:
        self.gate.clear()

    def release_snapshots(self) -> None:
        self.gate.set()


@dataclass(frozen=True)
class Venue:
    name: str  # the ccxt id
    make: Callable[[], Any]
    symbol: str  # the engine's (ccxt's unified) symbol
    key: str  # the fake's own id of the market
    book_topic: str  # the fake's topic of the symbol's book
    bids: tuple[tuple[str, str], ...]
    asks: tuple[tuple[str, str], ...]

    @property
    def exchange(self) -> str:
        return self.name.upper()


BTC_BIDS = (("64000.00", "0.5"), ("63999.99", "1.0"), ("63999.50", "2.5"), ("63998.00", "0.75"))
BTC_ASKS = (("64000.01", "0.5"), ("64000.02", "3.0"), ("64000.50", "1.25"), ("64001.00", "4.0"))
KRAKEN_BIDS = (("64000.0", "0.5"), ("63999.9", "1.0"), ("63999.5", "2.5"), ("63998.0", "0.75"))
KRAKEN_ASKS = (("64000.1", "0.5"), ("64000.2", "3.0"), ("64000.5", "1.25"), ("64001.0", "4.0"))

BINANCE = Venue("binance", GatedBinance, "BTC/USDT", "BTCUSDT", "btcusdt@depth", BTC_BIDS, BTC_ASKS)
KRAKEN = Venue("kraken", FakeKraken, "BTC/USD", "BTC/USD", "book:BTC/USD", KRAKEN_BIDS, KRAKEN_ASKS)
COINBASE = Venue(
    "coinbase", FakeCoinbase, "BTC/USD", "BTC-USD", "level2:BTC-USD", BTC_BIDS, BTC_ASKS
)


@dataclass
class Mirror:
    """A fake venue and an engine mirroring it, driven through `vmx`."""

    venue: Venue
    thread: VenueThread
    env: dict[str, str]

    @property
    def fake(self) -> Any:
        return self.thread.fake

    def vmx(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*VMX, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def json(self, *args: str) -> Any:
        result = self.vmx(*args, "--json")
        assert result.returncode == 0, (args, result.stderr)
        return json.loads(result.stdout, parse_float=Decimal)

    def status(self) -> dict[str, Any]:
        rows = self.json("markets", "status")["markets"]
        return next(row for row in rows if row["exchange"] == self.venue.exchange)

    def engine_book(self, exchange: str | None = None, symbol: str | None = None) -> Book:
        book = self.json(
            "book", exchange or self.venue.exchange, symbol or self.venue.symbol, "--depth", "1000"
        )
        return {
            side: {Decimal(level["price"]): Decimal(level["quantity"]) for level in book[side]}
            for side in ("bids", "asks")
        }

    def fake_book(self) -> Book:
        book: Book = self.thread.call(self.fake.book, self.venue.key)
        return book

    def set_levels(self, bids: Any = (), asks: Any = (), **kwargs: Any) -> None:
        self.thread.call(self.fake.set_levels, self.venue.key, bids, asks, **kwargs)

    def trade(self, price: str, qty: str, taker_side: str) -> None:
        self.thread.call(self.fake.trade, self.venue.key, price, qty, taker_side)

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"{what} not seen within {timeout}s")

    def wait_book_equal(self, timeout: float = 30) -> None:
        """Until the engine's book is the fake's true book (the last of each shown on failure)."""
        deadline = time.monotonic() + timeout
        while True:
            engine, fake = self.engine_book(), self.fake_book()
            if engine == fake:
                return
            if time.monotonic() > deadline:
                assert engine == fake
            time.sleep(0.1)

    def wait_open(self) -> dict[str, Any]:
        self.wait_for(lambda: self.status()["status"] == "open", f"{self.venue.exchange} open")
        return self.status()

    def market_order(self) -> subprocess.CompletedProcess[str]:
        return self.vmx(
            "order", "place", self.venue.exchange, self.venue.symbol, "buy", "0.01",
            "--type", "market", "-y", "--json",
        )  # fmt: skip


@contextlib.contextmanager
def mirror_of(
    venue: Venue, tmp_path: Path, *, up: bool = True, **tuning: float
) -> Iterator[Mirror]:
    """The fake (listening unless `up` is false), seeded with the venue's levels, and a
    `vmx engine start --mirror` engine pointed at it through `--venue-config`."""
    thread = VenueThread(venue.make)
    env = make_env(tmp_path / "home", COLUMNS=str(COLUMNS), LINES=str(LINES))
    mirror = Mirror(venue, thread, env)
    try:
        mirror.set_levels(venue.bids, venue.asks)
        if up:
            thread.come_up()
        config = thread.venue_config(tmp_path / "venues.json", venue.name, **tuning)
        started = mirror.vmx(
            "engine", "start", "--mirror", f"{venue.name}:{venue.symbol}",
            "--venue-config", str(config), "--data-dir", str(tmp_path / "data"), "--json",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout)["mirrors"] == [f"{venue.name}:{venue.symbol}"]
        yield mirror
    finally:
        mirror.vmx("engine", "stop")
        thread.close()


# Quick retries (the defaults wait up to 30 s); the stall watchdog is set per test.
FAST = {"backoff": 0.05, "max_backoff": 0.5}


class BookStream:
    """`vmx stream market EXCHANGE:SYMBOL -c book`: the book channel's messages as a client of
    the engine's WebSocket sees them."""

    def __init__(self, mirror: Mirror) -> None:
        venue = mirror.venue
        self.process = subprocess.Popen(
            [*VMX, "stream", "market", f"{venue.exchange}:{venue.symbol}", "-c", "book"],
            env=mirror.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.reader = Reader(self.process)
        self.reader.wait_for(lambda: self.types()[:1] == ["book_snapshot"])

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.reader.lines)]

    def types(self) -> list[str]:
        return [message["type"] for message in self.messages()]

    def statuses(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m["type"] == "book_status"]

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def held_resync(mirror: Mirror, fault: Callable[[], None], reason: str) -> None:
    """Inject `fault` with the venue's snapshots held back: while the book is resyncing the
    exchange is halted with `reason`, market orders are refused and the book channel says the
    book is not valid; then it opens again with one more reconnect, the channel says valid and
    sends a fresh snapshot, and the book is the fake's true book."""
    before = mirror.wait_open()["feed"]["reconnects"]
    stream = BookStream(mirror)
    try:
        mirror.thread.call(mirror.fake.hold_snapshots)
        try:
            fault()
            mirror.wait_for(lambda: mirror.status()["status"] == "halted", "halted")
            status = mirror.status()
            assert reason in status["reason"], status
            refused = mirror.market_order()
            assert refused.returncode != 0
            assert "MARKET_CLOSED" in refused.stderr and reason in refused.stderr, refused.stderr
            stream.reader.wait_for(lambda: stream.statuses())
            [down] = stream.statuses()
            assert down["valid"] is False and reason in down["reason"], down
            assert (down["exchange"], down["symbol"]) == (
                mirror.venue.exchange,
                mirror.venue.symbol,
            )
        finally:
            mirror.thread.call(mirror.fake.release_snapshots)
        after = mirror.wait_open()
        assert after["reason"] is None
        assert after["feed"]["reconnects"] == before + 1
        mirror.wait_book_equal()
        stream.reader.wait_for(lambda: len(stream.statuses()) == 2)
        up = stream.statuses()[1]
        assert up["valid"] is True and up["reason"] is None, up
        types = stream.types()
        assert (
            "book_snapshot" in types[types.index("book_status", types.index("book_status") + 1) :]
        )
    finally:
        stream.close()
    filled = mirror.market_order()
    assert filled.returncode == 0, filled.stderr
