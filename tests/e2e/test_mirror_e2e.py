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

import json
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.mirror_harness import (
    BINANCE,
    BTC_ASKS,
    BTC_BIDS,
    COINBASE,
    FAST,
    KRAKEN,
    Book,
    Mirror,
    Venue,
    held_resync,
    mirror_of,
)
from tests.e2e.terminal import Terminal, assert_restored, ladder_sides
from tests.processes import VMX, make_env

pytestmark = pytest.mark.e2e


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
