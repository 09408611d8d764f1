"""`vmx watch` on a real pseudo-terminal against a real engine, read back through pyte.

The engine runs as `vmx engine serve` on a loopback port; vmx runs under `pty.fork()` (so the
pty is its controlling terminal and Ctrl-C is a real SIGINT from the line discipline), and
everything it writes is fed to a pyte screen.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.served_engine import Engine, vmx
from tests.e2e.terminal import (
    ENTER_ALT,
    PRICE,
    Terminal,
    assert_restored,
    ladder_sides,
    shows_live_ladder,
)
from tests.processes import VMX
from velocimex_cli.client.book import LocalBook
from velocimex_cli.client.recording import Recording, replay

pytestmark = pytest.mark.e2e


def test_watch_draws_a_live_ladder_and_ctrl_c_restores_the_terminal(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT"], env)
    try:
        first = terminal.wait_for(shows_live_ladder, 30, "a live ladder")
        asks, bids = ladder_sides(first)
        assert "BINANCE BTC/USDT" in first
        # Asks above the spread, bids below, both descending, the spread between them.
        assert [float(p) for p in asks] == sorted((float(p) for p in asks), reverse=True)
        assert [float(p) for p in bids] == sorted((float(p) for p in bids), reverse=True)
        assert float(asks[-1]) > float(bids[0])
        assert "time" in first  # the tape fits beside the ladder at 110 columns
        terminal.wait_for(lambda text: text != first and shows_live_ladder(text), 15, "a change")
        # Keys: + groups levels at the book's own spacing (the first step merges levels: a
        # wider step than the median gap), + again a wider one; c switches to the depth
        # chart and back; - returns to the first step.
        group = re.compile(r"group (\d+(?:\.\d+)?) \((\d+) ticks\)")
        terminal.send(b"+")
        first_step = group.search(terminal.wait_for(group.search, 10, "a grouping"))
        assert first_step is not None
        gap = float(asks[-2]) - float(asks[-1]) if len(asks) > 1 else 0.0
        assert float(first_step.group(1)) > gap  # levels merge
        terminal.send(b"+")
        second = terminal.wait_for(
            lambda text: (m := group.search(text)) is not None and m.group(1) != first_step[1],
            10,
            "a coarser grouping",
        )
        second_step = group.search(second)
        assert second_step is not None and float(second_step[1]) > float(first_step[1])
        terminal.send(b"c")
        terminal.wait_for(lambda text: "cumulative depth" in text, 10, "the depth chart")
        terminal.send(b"c-")
        terminal.wait_for(
            lambda text: f"group {first_step[1]} (" in text and shows_live_ladder(text),
            10,
            "the ladder",
        )
        terminal.send(b"\x03")  # Ctrl-C through the pty: a real SIGINT
        assert terminal.wait(15) == 0
        assert_restored(bytes(terminal.raw))
    finally:
        terminal.close()


def test_book_watch_with_a_depth_draws_that_many_levels(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    terminal = Terminal.spawn([*VMX, "book", "BINANCE", "BTC/USDT", "--watch", "--depth", "5"], env)
    try:
        text = terminal.wait_for(shows_live_ladder, 30, "a live ladder")
        asks, bids = ladder_sides(text)
        assert (len(asks), len(bids)) == (5, 5), text
        terminal.send(b"q")
        assert terminal.wait(15) == 0
    finally:
        terminal.close()


def test_watch_recovers_by_itself_when_the_engine_restarts_and_q_quits(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    server, env = engine
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT", "--fps", "20"], env)
    try:
        terminal.wait_for(shows_live_ladder, 30, "a live ladder")
        server.kill()
        text = terminal.wait_for(
            lambda t: re.search(r"reconnecting \(attempt \d+\)", t) is not None, 15, "reconnecting"
        )
        assert "● live" not in text  # the stale book is not shown as live
        server.start()
        terminal.wait_for(shows_live_ladder, 30, "the ladder live again")
        terminal.send(b"q")
        assert terminal.wait(15) == 0
        assert_restored(bytes(terminal.raw))
    finally:
        terminal.close()


def test_watch_off_a_terminal_prints_ndjson_snapshots_of_the_local_book(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    result = vmx(env, "watch", "binance", "btc-usdt", "--count", "4", "--depth", "3", "--fps", "20")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4
    sequences = [line["sequence"] for line in lines]
    assert sequences == sorted(sequences)
    live = [line for line in lines if line["valid"]]
    assert live, lines
    for line in live:
        assert (line["exchange"], line["symbol"], line["status"]) == ("BINANCE", "BTC/USDT", "live")
        # --depth 3 a side; a side may be empty for a moment (the simulator's takers sweep
        # it), the book never is, and it is never crossed
        assert len(line["bids"]) <= 3 and len(line["asks"]) <= 3
        assert line["bids"] or line["asks"], line
        if line["bids"] and line["asks"]:
            assert line["bids"][0]["price"] < line["asks"][0]["price"]
    assert any(line["bids"] and line["asks"] for line in live), live


def first_line_then_close(env: dict[str, str], *args: str) -> dict:
    """Read one line of a never-ending command, then go away like `| head -1`; it exits 0."""
    process = subprocess.Popen(
        [*VMX, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())
    process.stdout.close()
    assert process.wait(timeout=15) == 0
    assert process.stderr.read() == b""
    return first


def test_watch_exits_quietly_when_the_reader_goes_away(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    first = first_line_then_close(env, "watch", "BINANCE", "BTC/USDT", "--fps", "20")
    assert first["type"] == "book" and first["symbol"] == "BTC/USDT"
    # The same view through `vmx book --watch`, its --depth the NDJSON depth.
    book = first_line_then_close(env, "book", "BINANCE", "ETH/USDT", "--watch", "--depth", "1")
    assert book["symbol"] == "ETH/USDT" and len(book["bids"]) <= 1


def test_ticker_watch_off_a_terminal_streams_the_chosen_instruments(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    result = vmx(
        env, "ticker", "--watch", "BINANCE:ETH/USDT", "kraken:btc-usd", "--duration", "1.5"
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(r["exchange"], r["symbol"]) for r in rows} == {
        ("BINANCE", "ETH/USDT"),
        ("KRAKEN", "BTC/USD"),
    }
    assert all(r["type"] == "ticker" and "received_at" not in r for r in rows)


def recorded_book(path: Path) -> LocalBook:
    """The book a recording ends with: its messages applied in order, as replay does."""

    async def last() -> LocalBook:
        book = LocalBook("BINANCE", "BTC/USDT")
        async for message in replay(Recording(path), None):
            if message.get("type") in ("book_snapshot", "book_delta"):
                assert book.apply(message) is None
                assert book.verify(), book.reason  # its checksum, as replay checks a frame
        return book

    return asyncio.run(last())


def test_watch_records_and_replay_plays_it_into_the_ladder(
    engine: tuple[Engine, dict[str, str]], tmp_path: Path
) -> None:
    _, env = engine
    path = tmp_path / "btc.ndjson"
    recorded = vmx(env, "watch", "BINANCE", "BTC/USDT", "--record", str(path), "--count", "3")
    assert recorded.returncode == 0, recorded.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["format"] == "vmx-recording" and lines[0]["instruments"] == ["BINANCE:BTC/USDT"]
    # The instrument's terms as the engine lists them, for a backtest of the recording.
    assert lines[0]["terms"] == {
        "BINANCE:BTC/USDT": {
            "base": "BTC",
            "quote": "USDT",
            "tick_size": 0.01,
            "lot_size": 0.00001,
            "min_quantity": 0.0001,
        }
    }
    kinds = {line["msg"]["type"] for line in lines[1:]}
    assert {"connection", "book_snapshot"} <= kinds and "resync" not in kinds
    # The ladder shows the recording's last book (rebuilt from the file as replay applies it),
    # whichever side the simulator's takers may have swept empty while it was recorded; a
    # frame read half drawn is waited out.
    book = recorded_book(path)
    best_ask = [f"{p:.2f}" for p, _q in book.asks()[:1]]
    best_bid = [f"{p:.2f}" for p, _q in book.bids()[:1]]
    assert best_ask or best_bid

    def shows_the_last_book(text: str) -> bool:
        asks, bids = ladder_sides(text)
        return "end of the recording" in text and asks[-1:] == best_ask and bids[:1] == best_bid

    terminal = Terminal.spawn([*VMX, "replay", str(path), "--speed", "max"], env)
    try:
        text = terminal.wait_for(shows_the_last_book, 20, "the replayed ladder's last book")
        # A recording, not a feed: the header says so, and shows no lag.
        assert "● replay max" in text and "● live" not in text and " lag " not in text
        terminal.send(b"q")
        assert terminal.wait(15) == 0
        assert_restored(bytes(terminal.raw))
    finally:
        terminal.close()


def test_order_watch_and_ticker_watch_on_a_terminal(engine: tuple[Engine, dict[str, str]]) -> None:
    _, env = engine
    orders = Terminal.spawn([*VMX, "order", "watch"], env)
    try:
        orders.wait_for(lambda t: "orders:" in t and "● live" in t, 30, "the order board")
        placed = vmx(env, "buy", "BINANCE", "ETH/USDT", "0.5", "--price", "1000", "--yes", "--json")
        assert placed.returncode == 0, placed.stderr
        order_id = json.loads(placed.stdout)["order_id"]
        text = orders.wait_for(lambda t: order_id in t, 15, "the new order on the board")
        row = next(line for line in text.splitlines() if order_id in line)
        assert "BINANCE:ETH/USDT" in row and "buy" in row and "1000.00" in row and "open" in row
        orders.send(b"q")
        assert orders.wait(15) == 0
        assert_restored(bytes(orders.raw))
    finally:
        orders.close()
    board = Terminal.spawn([*VMX, "ticker", "--watch", "BINANCE:BTC/USDT", "BINANCE:ETH/USDT"], env)
    try:
        text = board.wait_for(
            lambda t: (
                "BINANCE:BTC/USDT" in t and "BINANCE:ETH/USDT" in t and PRICE.search(t) is not None
            ),
            30,
            "the ticker board",
        )
        assert "change" in text and "volume 24h" in text
        board.send(b"\x03")
        assert board.wait(15) == 0
        assert_restored(bytes(board.raw))
    finally:
        board.close()


def test_json_on_a_terminal_prints_ndjson_instead_of_drawing(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT", "--json", "--count", "2"], env)
    try:
        assert terminal.wait(30) == 0
        raw = bytes(terminal.raw)
        assert ENTER_ALT not in raw
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.startswith("{")]
        assert len(lines) == 2 and all(line["type"] == "book" for line in lines)
    finally:
        terminal.close()


SPREAD_LINE = re.compile(
    r"^BTC/USD  buy (\w+) ([\d.]+), sell (\w+) ([\d.]+): ([+-]?[\d.]+) USD  ([+-]?[\d.]+) bps"
)
SAME_BASE = ["KRAKEN:BTC/USD", "COINBASE:BTC/USD", "BINANCE:BTC/USDT"]


def taker_fees(env: dict[str, str]) -> dict[str, Decimal]:
    """Each exchange's taker fee for its SAME_BASE instrument as the engine lists it
    (GET /v1/markets)."""
    listed = vmx(env, "markets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    markets = json.loads(listed.stdout, parse_float=Decimal)
    rows = markets["markets"] if isinstance(markets, dict) else markets
    wanted = {tuple(name.split(":")) for name in SAME_BASE}
    return {
        m["exchange"]: Decimal(m["taker_fee"])
        for m in rows
        if (m["exchange"], m["symbol"]) in wanted
    }


def _net(buy: Decimal, sell: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    return sell - buy - buy * buy_fee - sell * sell_fee


def test_ticker_watch_shows_the_best_cross_venue_spread_net_of_taker_fees(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    """Two venues quote BTC in USD, one in USDT (at par): one spread row, BTC/USD, saying USD =
    USDT, its buy price the buy venue's ask on the same screen, its sell price the other's bid,
    its net after both venues' taker fees; no BTC/USDT row of its own."""
    _, env = engine
    fees = taker_fees(env)
    assert set(fees) == {"KRAKEN", "COINBASE", "BINANCE"}

    def consistent(text: str) -> bool:
        lines = text.splitlines()
        rows = {
            line.split()[0]: line.split() for line in lines if line.startswith(tuple(SAME_BASE))
        }
        match = next((m for line in lines if (m := SPREAD_LINE.match(line.strip()))), None)
        if match is None or len(rows) < 3:
            return False
        buy_on, buy, sell_on, sell, net, _bps = match.groups()
        ask_of = {name.split(":")[0]: row[5] for name, row in rows.items()}
        bid_of = {name.split(":")[0]: row[4] for name, row in rows.items()}
        expected = _net(Decimal(buy), Decimal(sell), fees[buy_on], fees[sell_on])
        return (
            buy_on != sell_on
            and ask_of[buy_on] == buy
            and bid_of[sell_on] == sell
            and Decimal(net) == expected
        )

    board = Terminal.spawn([*VMX, "ticker", "--watch", *SAME_BASE], env)
    try:
        text = board.wait_for(consistent, 40, "a spread row matching the rows above it")
        assert "best cross-venue spread, net of both taker fees" in text
        assert any(
            line.strip().startswith("BTC/USD  buy") and line.rstrip().endswith("(USD = USDT)")
            for line in text.splitlines()
        ), text
        assert not any(line.strip().startswith("BTC/USDT  buy") for line in text.splitlines())
        board.send(b"q")
        assert board.wait(15) == 0
        assert_restored(bytes(board.raw))
    finally:
        board.close()


def test_ticker_watch_off_a_terminal_adds_cross_venue_spread_lines(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    fees = taker_fees(env)
    result = vmx(env, "ticker", "--watch", *SAME_BASE, "--duration", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines()]
    spreads = [line for line in lines if line["type"] == "cross_venue_spread"]
    assert spreads and all(
        (s["base"], s["quote"], s["quotes_at_par"]) == ("BTC", "USD", ["USD", "USDT"])
        for s in spreads
    )
    priced = [s for s in spreads if s["buy"] is not None]
    assert priced, spreads
    for spread in priced:
        buy, sell = spread["buy"], spread["sell"]
        assert buy["exchange"] != sell["exchange"]
        assert {buy["exchange"], sell["exchange"]} <= {"KRAKEN", "COINBASE", "BINANCE"}
        assert Decimal(buy["taker_fee"]) == fees[buy["exchange"]]
        expected = _net(Decimal(buy["price"]), Decimal(sell["price"]), fees[buy["exchange"]],
                        fees[sell["exchange"]])  # fmt: skip
        assert Decimal(spread["net"]) == expected
    assert {line["type"] for line in lines} == {"ticker", "cross_venue_spread"}
