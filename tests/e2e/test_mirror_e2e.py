"""Mirrored venues end to end, through ccxt: `vmx engine start --mirror binance:BTC/USDT
--venue-config FILE` (a real engine process with its own VMX_HOME and data directory) against a
fake exchange of tests/fakes/ served on a background thread, read back through the public
`vmx` commands (and `vmx watch` on a real terminal).

After each injected fault the engine's book (full depth) equals the fake's true book once
resynced. The tests hold the venue's next snapshot back (Binance's REST depth snapshot, Kraken's
and Coinbase's book subscription), so the halted state is seen: `vmx markets status` says halted
with the fault's reason, market orders are refused with MARKET_CLOSED, and the WebSocket book
channel (`vmx stream market`) says `book_status` valid false; then open with the reconnect
counted, `book_status` valid true and a fresh snapshot.
"""

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

import pytest

from tests.e2e.terminal import COLUMNS, LINES, Terminal, assert_restored, ladder_sides
from tests.e2e.venue_thread import VenueThread
from tests.fakes.binance import FakeBinance
from tests.fakes.coinbase import FakeCoinbase
from tests.fakes.kraken import FakeKraken
from tests.processes import VMX, Reader, make_env

pytestmark = pytest.mark.e2e

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


@pytest.fixture
def binance(tmp_path: Path) -> Iterator[Mirror]:
    with mirror_of(BINANCE, tmp_path, **FAST) as mirror:
        yield mirror


def test_vmx_watch_shows_the_fakes_real_prices(binance: Mirror) -> None:
    binance.wait_open()
    env = {**binance.env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT", "--fps", "20"], env)
    try:

        def shows(bids: list[str], asks: list[str]) -> Callable[[str], bool]:
            def check(text: str) -> bool:
                shown_asks, shown_bids = ladder_sides(text)
                return "● live" in text and shown_bids == bids and shown_asks == asks

            return check

        # asks are drawn best (lowest) nearest the spread line, i.e. last
        asks = [p for p, _ in reversed(BTC_ASKS)]
        terminal.wait_for(shows([p for p, _ in BTC_BIDS], asks), 30, "the fake's book")
        # a change at the fake reaches the ladder
        binance.set_levels(bids=[("64000.00", "0"), ("63999.98", "0.2")])
        terminal.wait_for(
            shows(["63999.99", "63999.98", "63999.50", "63998.00"], asks), 15, "the change"
        )
        terminal.send(b"q")
        assert terminal.wait(15) == 0
        assert_restored(bytes(terminal.raw))
    finally:
        terminal.close()


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


def test_binance_book_equals_the_fakes_through_a_gap_a_drop_and_a_stall(tmp_path: Path) -> None:
    with mirror_of(BINANCE, tmp_path, stall_after=1.0, **FAST) as mirror:
        # the venue talks while its book is quiet (so that only a stall is silent)
        fake = mirror.fake
        mirror.thread.beat(0.2, lambda: fake.set_levels(BINANCE.key))
        mirror.wait_open()
        mirror.wait_book_equal()
        mirror.set_levels(bids=[("63999.99", "1.75"), ("63999.00", "3")], asks=[("64000.02", "0")])
        mirror.wait_book_equal()

        def gap() -> None:
            # lost on the way: ccxt sees the next diff's U skip it
            mirror.thread.call(fake.gap, BINANCE.key, [("63999.50", "0")], [("64000.90", "7")])
            mirror.set_levels(bids=[("63990.00", "1")])

        held_resync(mirror, gap, "sequence gap")
        assert mirror.engine_book()["asks"][Decimal("64000.90")] == Decimal("7")

        def drop() -> None:
            mirror.set_levels(asks=[("64000.01", "0.25")])
            mirror.thread.call(fake.server.drop)

        held_resync(mirror, drop, "connection")

        def stall() -> None:
            mirror.thread.call(fake.server.stall)
            mirror.thread.call(fake.set_levels, BINANCE.key, [("63995.00", "2")])  # unheard

        held_resync(mirror, stall, "stalled")
        assert mirror.engine_book()["bids"][Decimal("63995.00")] == Decimal("2")


@pytest.mark.parametrize(
    ("venue", "fault"),
    [(KRAKEN, "checksum"), (KRAKEN, "drop"), (COINBASE, "gap"), (COINBASE, "drop")],
    ids=["kraken-checksum", "kraken-drop", "coinbase-gap", "coinbase-drop"],
)
def test_kraken_and_coinbase_books_equal_the_fakes_after_a_fault(
    venue: Venue, fault: str, tmp_path: Path
) -> None:
    with mirror_of(venue, tmp_path, **FAST) as mirror:
        before = mirror.wait_open()["feed"]["reconnects"]
        mirror.wait_book_equal()
        step = "0.1" if venue is KRAKEN else "0.01"
        top = Decimal(venue.bids[0][0])
        mirror.set_levels(bids=[(str(top - 3 * Decimal(step)), "1.5")])
        mirror.wait_book_equal()
        lost = [(str(top - 9 * Decimal(step)), "2")]
        if fault == "checksum":
            mirror.set_levels(bids=lost, bad_checksum=True)
        elif fault == "gap":
            mirror.set_levels(bids=lost, publish=False)
            mirror.set_levels(asks=[(venue.asks[1][0], "0")])  # the next message shows the gap
        else:
            mirror.set_levels(bids=lost)
            mirror.thread.call(mirror.fake.server.drop)
        mirror.wait_for(
            lambda: mirror.status()["feed"]["reconnects"] == before + 1, "the reconnect"
        )
        mirror.wait_open()
        mirror.wait_book_equal()


@pytest.mark.parametrize("venue", [KRAKEN, COINBASE], ids=["kraken", "coinbase"])
def test_kraken_and_coinbase_halt_while_resyncing_after_a_fault_a_drop_and_a_stall(
    venue: Venue, tmp_path: Path
) -> None:
    with mirror_of(venue, tmp_path, stall_after=1.0, **FAST) as mirror:
        # the venue talks while its book is quiet (so that only a stall is silent)
        fake = mirror.fake
        mirror.thread.beat(0.2, lambda: fake.set_levels(venue.key))
        mirror.wait_open()
        mirror.wait_book_equal()
        step = Decimal("0.1") if venue is KRAKEN else Decimal("0.01")
        top = Decimal(venue.bids[0][0])

        def fault() -> None:  # Kraken: a checksum that does not match; Coinbase: a lost update
            lost = [(str(top - 9 * step), "2")]
            if venue is KRAKEN:
                mirror.set_levels(bids=lost, bad_checksum=True)
            else:
                mirror.set_levels(bids=lost, publish=False)
                mirror.set_levels(asks=[(venue.asks[1][0], "0")])  # the next shows the gap

        held_resync(mirror, fault, "checksum mismatch" if venue is KRAKEN else "sequence gap")
        assert mirror.engine_book()["bids"][top - 9 * step] == Decimal("2")

        def drop() -> None:
            mirror.set_levels(asks=[(venue.asks[0][0], "0.25")])
            mirror.thread.call(fake.server.drop)

        held_resync(mirror, drop, "connection")

        def stall() -> None:
            mirror.thread.call(fake.server.stall)
            mirror.thread.call(fake.set_levels, venue.key, [(str(top - 5 * step), "2")])  # unheard

        held_resync(mirror, stall, "stalled")
        assert mirror.engine_book()["bids"][top - 5 * step] == Decimal("2")


def test_an_engine_started_while_binance_refuses_serves_the_simulated_exchanges_then_mirrors(
    tmp_path: Path,
) -> None:
    with mirror_of(BINANCE, tmp_path, up=False, **FAST) as mirror:
        status = mirror.status()
        assert status["status"] == "halted"
        assert "binance unreachable" in status["reason"], status
        refused = mirror.market_order()
        assert "MARKET_CLOSED" in refused.stderr, refused.stderr
        # the simulated exchanges serve meanwhile
        rows = {row["exchange"]: row for row in mirror.json("markets", "status")["markets"]}
        assert rows["KRAKEN"]["status"] == "open" and "feed" not in rows["KRAKEN"]
        kraken = mirror.engine_book("KRAKEN", "BTC/USD")
        assert kraken["bids"] and kraken["asks"]
        mirror.thread.come_up()
        mirror.wait_open()
        mirror.wait_book_equal()


def rebuilt(lines: list[str]) -> Book:
    """The book a client rebuilds from `vmx stream market -c book` NDJSON: the last snapshot,
    then each delta in turn, each sequence the one after the last."""
    book: Book = {"bids": {}, "asks": {}}
    sequence = None
    for line in lines:
        message = json.loads(line, parse_float=Decimal)
        if message.get("type") == "book_snapshot":
            book = {
                side: {Decimal(str(lv["price"])): Decimal(str(lv["quantity"])) for lv in levels}
                for side, levels in (("bids", message["bids"]), ("asks", message["asks"]))
            }
            sequence = message["sequence"]
        elif message.get("type") == "book_delta":
            assert sequence is not None and message["sequence"] == sequence + 1, message
            sequence = message["sequence"]
            for change in message["changes"]:
                side = book["bids" if change["side"] == "bid" else "asks"]
                price, quantity = Decimal(str(change["price"])), Decimal(str(change["quantity"]))
                if quantity:
                    side[price] = quantity
                else:
                    side.pop(price, None)
    return book


def test_a_burst_of_venue_updates_gives_a_client_the_fakes_book(binance: Mirror) -> None:
    binance.wait_open()
    stream = subprocess.Popen(
        [*VMX, "stream", "market", "BINANCE:BTC/USDT", "-c", "book", "--duration", "8"],
        env=binance.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert stream.stdout is not None
        first = stream.stdout.readline()  # the snapshot: the client is subscribed
        assert json.loads(first)["type"] == "book_snapshot", first

        def burst() -> None:  # sent at once: a level changed again and again, others come, go
            for i in range(40):
                binance.fake.set_levels("BTCUSDT", bids=[("63999.99", f"{i + 1}.5")])
                binance.fake.set_levels(
                    "BTCUSDT", asks=[(f"{64002 + i % 7}.00", "0" if i % 2 else "2")]
                )

        binance.thread.call(burst)
        rest, errors = stream.communicate(timeout=60)
    finally:
        stream.kill()
    assert stream.returncode == 0, errors
    assert rebuilt([first, *rest.splitlines()]) == binance.fake_book()
    binance.wait_book_equal()


def test_a_resting_order_keeps_its_place_and_fills_only_from_prints_that_reach_it(
    binance: Mirror,
) -> None:
    binance.wait_open()
    placed = binance.json(
        "order", "place", "BINANCE", "BTC/USDT", "buy", "0.3", "--price", "63999.99", "-y"
    )
    order_id = placed["order_id"]
    assert placed["status"] == "open" and Decimal(placed["filled_quantity"]) == 0

    def filled() -> Decimal:
        return Decimal(binance.json("order", "show", order_id)["filled_quantity"])

    def level(price: str) -> Decimal | None:
        return binance.engine_book()["bids"].get(Decimal(price))

    binance.wait_for(lambda: level("63999.99") == Decimal("1.3"), "the order behind 1.0")
    # the venue's level shrinks to 0.4: its own liquidity goes, the order keeps its place
    binance.set_levels(bids=[("63999.99", "0.4")])
    binance.wait_for(lambda: level("63999.99") == Decimal("0.7"), "the level shrunk")
    # prints that do not reach 63999.99 ...
    binance.trade("64000.00", "2.0", "sell")
    binance.trade("64000.01", "1.0", "buy")
    # ... and one that reaches it but only meets the 0.4 ahead (which moves to 0.1)
    binance.trade("63999.99", "0.3", "sell")
    # the next takes the 0.1 left ahead, then 0.1 of the order (prints arrive in order: when it
    # is seen filled, every print before it was applied)
    binance.trade("63999.99", "0.2", "sell")
    binance.wait_for(lambda: filled() > 0, "the order's first fill")
    assert filled() == Decimal("0.1")
    # a print through its price fills the rest, at the order's price
    binance.trade("63999.98", "1.0", "sell")
    binance.wait_for(lambda: filled() == Decimal("0.3"), "the order filled")
    shown = binance.json("order", "show", order_id)
    assert shown["status"] == "filled"
    assert Decimal(shown["average_price"]) == Decimal("63999.99")
    # each maker fill paid Binance's maker rate (ccxt states its base tier: 0.1%), not vmx's
    fills = binance.json("order", "fills")["fills"]
    assert [(f["liquidity"], Decimal(f["quantity"])) for f in fills] == [
        ("maker", Decimal("0.2")),
        ("maker", Decimal("0.1")),
    ]
    for fill in fills:
        assert Decimal(fill["fee"]) == Decimal("63999.99") * Decimal(fill["quantity"]) * BINANCE_FEE


BINANCE_FEE = Decimal("0.001")  # Binance's spot maker and taker rate as ccxt states it


def test_a_paper_taker_fill_on_binance_pays_binances_rate(binance: Mirror) -> None:
    binance.wait_open()
    row = next(r for r in binance.json("markets", "list", "BINANCE")["markets"]
               if r["symbol"] == "BTC/USDT")  # fmt: skip
    assert (Decimal(row["maker_fee"]), Decimal(row["taker_fee"])) == (BINANCE_FEE, BINANCE_FEE)
    assert row["fee_source"] == "venue"
    filled = binance.market_order()  # buys 0.01 at the fake's best ask, 64000.01
    assert filled.returncode == 0, filled.stderr
    [fill] = binance.json("order", "fills")["fills"]
    assert fill["liquidity"] == "taker" and Decimal(fill["price"]) == Decimal("64000.01")
    fee = Decimal("64000.01") * Decimal("0.01") * BINANCE_FEE
    assert fee == Decimal("0.6400001")  # (the engine's 2 bps would be 0.128)
    assert Decimal(fill["fee"]) == fee and fill["fee_asset"] == "USDT"
    balance = binance.json("account", "balance")["balances"]
    usdt = next(b for b in balance if b["asset"] == "USDT")
    assert Decimal(usdt["total"]) == 100_000 - Decimal("640.0001") - fee


@pytest.mark.parametrize(
    ("tuning", "message"),
    [
        ([], "binance.vmx must be an object such as"),
        ({"stall": 1}, "'stall' is not a setting vmx knows; use stall_after, backoff, max_backoff"),
        ({"stall_after": 0}, "stall_after must be a number of seconds above 0 and at most 3600"),
        ({"backoff": "1"}, "backoff must be a number of seconds above 0"),
        ({"maker_fee": "0.0002"}, "binance.vmx: maker_fee needs taker_fee too"),
        ({"maker_fee": "0.0002", "taker_fee": "-1"}, "binance.vmx: taker_fee -1 is below 0"),
    ],
)
def test_a_venue_configs_vmx_tuning_that_cannot_be_used_is_refused_naming_it(
    tuning: Any, message: str, tmp_path: Path
) -> None:
    config = tmp_path / "venues.json"
    config.write_text(json.dumps({"binance": {"vmx": tuning}}), "utf-8")
    result = subprocess.run(
        [*VMX, "engine", "start", "--mirror", "binance:BTC/USDT", "--venue-config", str(config)],
        env=make_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"--venue-config {config}" in result.stderr and message in result.stderr, result.stderr
    assert "Engine started" not in result.stdout
