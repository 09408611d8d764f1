"""`vmx watch` (on a real pseudo-terminal, read back through pyte) and `vmx stream market` while
a mirrored exchange's feed goes down and comes back.

The engine is the real app under uvicorn on a loopback port, in this process. The test sends
what the mirror sends on the book channel (wire.streams.book_status_message: not valid with a
reason; then valid, and a fresh snapshot) through the engine's own fan-out to its market
subscribers: the same frames a mirrored exchange's subscribers get.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.terminal import (
    COLUMNS,
    LINES,
    Terminal,
    assert_restored,
    ladder_sides,
    shows_live_ladder,
)
from tests.engine.api.conftest import LiveServer, settings
from tests.processes import VMX, Reader, make_env
from velocimex_cli.engine.api.app import create_app

pytestmark = pytest.mark.e2e

GAP = "sequence gap: update 1204 after 1190"


@dataclass
class Engine:
    live: LiveServer
    env: dict[str, str]

    def book_status(self, valid: bool, reason: str | None = None) -> None:
        """Send BINANCE BTC/USDT's book_status to every market stream that has its book (and,
        once valid, a fresh snapshot after it), as the mirror does."""
        from velocimex_cli.wire import jsonfmt
        from velocimex_cli.wire.streams import book_status_message

        hub = self.live.app.state.runtime.hub
        key = "BINANCE:BTC/USDT"
        frame = jsonfmt.dumps(
            book_status_message("BINANCE", "BTC/USDT", valid, reason, "2026-11-24T15:00:05.000000Z")
        )

        def send() -> None:
            for sub in list(hub.market):
                if sub.wants("book", key):
                    sub.outbox.put(frame)
                    if valid:
                        sub.resnapshot(key)

        self.live.server.servers[0].get_loop().call_soon_threadsafe(send)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # The simulator seeds the books at start and never steps: only the test changes them.
    app = create_app(
        settings(data_dir=tmp_path / "engine", simulate=True, simulate_interval_seconds=3600.0)
    )
    with LiveServer(app) as live:
        created = app.state.runtime.keys.create("alice", "test", ("read", "trade"))
        env = make_env(
            tmp_path / "home",
            VMX_API_URL=live.url,
            VMX_API_KEY=created.api_key,
            VMX_API_SECRET=created.api_secret,
            TERM="xterm-256color",
            COLUMNS=str(COLUMNS),
            LINES=str(LINES),
        )
        env.pop("NO_COLOR", None)
        yield Engine(live, env)


def sides(text: str) -> tuple[list[str], list[str]]:
    """The prices above and below the line between the sides (which says why, when not valid)."""
    return ladder_sides(text.replace("⚠", "spread ⚠"))


def best_bid_colour(terminal: Terminal) -> str:
    """The colour the best bid's price is drawn in (pyte keeps colours, not dimness)."""
    text = terminal.text()
    _, bids = sides(text)
    assert bids, text
    with terminal.lock:
        for row in range(terminal.screen.lines):
            line = "".join(
                terminal.screen.buffer[row][x].data for x in range(terminal.screen.columns)
            )
            column = line.find(bids[0])
            if column >= 0 and "─" not in line:
                return str(terminal.screen.buffer[row][column].fg)
    raise AssertionError(f"{bids[0]} not on the screen")


def test_the_ladder_dims_and_says_why_while_the_feed_is_down_and_recovers(
    engine: Engine,
) -> None:
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT", "--fps", "20"], engine.env)
    try:
        terminal.wait_for(shows_live_ladder, 30, "a live ladder")
        assert best_bid_colour(terminal) == "green"
        engine.book_status(False, GAP)
        down = terminal.wait_for(lambda t: "feed down" in t, 15, "the feed down")
        assert f"● feed down: {GAP}" in down  # the title
        assert f"⚠ BINANCE BTC/USDT feed down: {GAP}" in down  # the line between the sides
        assert "● live" not in down
        asks, bids = sides(down)
        assert asks and bids  # the levels are still drawn ...
        assert best_bid_colour(terminal) != "green"  # ... but not in the side's colour
        engine.book_status(True)
        terminal.wait_for(shows_live_ladder, 15, "the ladder live again")
        assert "feed down" not in terminal.text()
        assert best_bid_colour(terminal) == "green"
        terminal.send(b"q")
        assert terminal.wait(15) == 0
        assert_restored(bytes(terminal.raw))
    finally:
        terminal.close()


def test_stream_market_passes_book_status_through_and_says_it_in_words(engine: Engine) -> None:
    process = subprocess.Popen(
        [*VMX, "stream", "market", "BINANCE:BTC/USDT", "-c", "book", "--count", "4"],
        env=engine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        reader = Reader(process)
        reader.wait_for(lambda: len(reader.lines) >= 1)
        assert json.loads(reader.lines[0])["type"] == "book_snapshot"
        engine.book_status(False, GAP)
        reader.wait_for(lambda: len(reader.lines) >= 2)
        engine.book_status(True)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [json.loads(line) for line in reader.lines]
    assert [line["type"] for line in lines] == [
        "book_snapshot",
        "book_status",
        "book_status",
        "book_snapshot",
    ]
    assert lines[1] == {
        "type": "book_status",
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "valid": False,
        "reason": GAP,
        "timestamp": "2026-11-24T15:00:05.000000Z",
    }
    assert lines[2]["valid"] is True and lines[2]["reason"] is None
    assert lines[3]["sequence"] == lines[0]["sequence"]  # nothing changed meanwhile
    err = "".join(reader.err)
    assert (
        f"market stream: BINANCE BTC/USDT feed down: {GAP}; the book is not the venue's until"
        " its next snapshot" in err
    )
    assert "market stream: BINANCE BTC/USDT feed whole again" in err
