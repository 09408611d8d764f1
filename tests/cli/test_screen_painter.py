"""The full-screen painter: what a terminal shows after its output, and how little it rewrites."""

from __future__ import annotations

import io
from decimal import Decimal

import pyte
from rich.console import Console
from rich.text import Text

from velocimex_cli.cli.live_screen import FullScreen
from velocimex_cli.render.ladder import LadderRenderer
from velocimex_cli.render.ladder_view import LadderView
from velocimex_cli.render.tape import Trade

D = Decimal
WIDTH, HEIGHT = 100, 20


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(
        file=out, force_terminal=True, width=WIDTH, height=HEIGHT, color_system="truecolor"
    )
    return console, out


def shown(output: str) -> list[str]:
    screen = pyte.Screen(WIDTH, HEIGHT)
    pyte.Stream(screen).feed(output)
    return [line.rstrip() for line in screen.display]


def view(bids: list, trades: list | None = None) -> LadderView:
    asks = [(D("101.00") + i, D("1.00")) for i in range(10)]
    return LadderView("BINANCE", "BTC/USDT", bids, asks, sequence=7, trades=trades or [])


def test_the_screen_shows_the_frame_and_only_changed_regions_are_rewritten() -> None:
    console, out = terminal()
    renderer = LadderRenderer()
    bids = [(D("100.00") - i, D("1.00")) for i in range(10)]
    trades = [Trade(D("100.50"), D("0.10"), "buy", "2026-11-24T15:00:00.000000Z")]
    with FullScreen(console) as screen:
        screen.draw(renderer.render_rows(view(bids, trades), WIDTH, HEIGHT))
        first = screen.regions_written
        expected = [
            line.rstrip()
            for line in renderer.render(view(bids, trades), WIDTH, HEIGHT).plain.split("\n")
        ]
        assert shown(out.getvalue()) == expected
        # Nothing changed: nothing is written at all.
        before = out.getvalue()
        screen.draw(renderer.render_rows(view(bids, trades), WIDTH, HEIGHT))
        assert out.getvalue() == before and screen.regions_written == first
        # The deepest shown bid changes: its row (and the header's figures) are rewritten,
        # the tape and the other rows are not.
        bids[6] = (bids[6][0], D("1.50"))
        screen.draw(renderer.render_rows(view(bids, trades), WIDTH, HEIGHT))
        assert 0 < screen.regions_written - first <= 2
        now = renderer.render(view(bids, trades), WIDTH, HEIGHT).plain.split("\n")
        assert shown(out.getvalue()) == [line.rstrip() for line in now]
    assert out.getvalue().endswith("\x1b[?1049l") or "\x1b[?1049l" in out.getvalue()[-40:]
    assert "\x1b[?25h" in out.getvalue()[-40:]


def test_a_shorter_frame_clears_what_the_longer_one_left() -> None:
    console, out = terminal()
    with FullScreen(console) as screen:
        screen.draw([Text("a long first line of text"), Text("second")])
        screen.draw([Text("short")])
        assert shown(out.getvalue())[:2] == ["short", ""]
