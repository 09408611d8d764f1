"""Candles on a real pseudo-terminal, read back through pyte: `vmx watch`'s price pane at a big
terminal (drawn under the ladder) and a small one (absent, the ladder as before), and `vmx
candles` drawing its chart once and live. The engine is a real `vmx engine serve` on a data
directory whose simulator trades, so its candles are real stored ones."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.e2e.served_engine import Engine, vmx
from tests.e2e.terminal import Terminal, ladder_sides, shows_live_ladder
from tests.processes import VMX

pytestmark = pytest.mark.e2e

PANE_TITLE = "price · 1m candles"
CLOSE_MARK = re.compile(r"◀(\d{5}\.\d{2})")
TITLE = re.compile(r"BINANCE BTC/USDT · 1m · \S+ \S+ O \S+ H \S+ L \S+ C (\S+) V (\S+)")


def engine_has_traded(env: dict[str, str]) -> None:
    """Wait until the simulator has traded BTC/USDT (a candle is stored)."""
    import json
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = vmx(env, "candles", "BINANCE", "BTC/USDT", "--json")
        assert result.returncode == 0, result.stderr
        if json.loads(result.stdout)["candles"]:
            return
        time.sleep(0.5)
    raise AssertionError("no BTC/USDT candle within 30 s")


def test_watch_shows_the_price_pane_under_the_ladder_on_a_big_terminal(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    engine_has_traded(env)
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT"], env, columns=140, lines=50)
    try:
        text = terminal.wait_for(
            lambda t: "● live" in t and PANE_TITLE in t and CLOSE_MARK.search(t) is not None,
            30,
            "the ladder with the price pane",
        )
        lines = text.splitlines()
        pane = next(i for i, line in enumerate(lines) if PANE_TITLE in line)
        assert pane == 50 - 12  # the bottom twelve rows
        assert "spread" in "\n".join(lines[:pane])  # the ladder above it, whole
        chart = "\n".join(lines[pane:])
        assert CLOSE_MARK.search(chart) and "┤" in chart  # the last close and the price axis
        assert re.search("[█▀▄▒]", chart)  # candle bodies
        assert "█ up  ▒ down" in chart
        terminal.send(b"q")
        assert terminal.wait(15) == 0
    finally:
        terminal.close()


def test_watch_has_no_pane_on_a_small_terminal(engine: tuple[Engine, dict[str, str]]) -> None:
    _, env = engine
    engine_has_traded(env)
    terminal = Terminal.spawn([*VMX, "watch", "BINANCE", "BTC/USDT"], env, columns=110, lines=30)
    try:
        # The ladder has every row, as before: twelve levels a side at 30 lines. (Waiting for
        # "spread" alone matched the header's "spread" before any level was drawn.)
        text = terminal.wait_for(
            lambda t: shows_live_ladder(t) and tuple(map(len, ladder_sides(t))) == (12, 12),
            30,
            "a live ladder of twelve levels a side",
        )
        assert PANE_TITLE not in text and "◀" not in text
        terminal.send(b"q")
        assert terminal.wait(15) == 0
    finally:
        terminal.close()


def test_candles_draws_a_chart_on_a_terminal_and_watch_redraws_it(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    _, env = engine
    engine_has_traded(env)
    once = Terminal.spawn([*VMX, "candles", "BINANCE", "BTC/USDT"], env, columns=90, lines=24)
    try:
        assert once.wait(30) == 0
        text = once.text()
        assert TITLE.search(text) and CLOSE_MARK.search(text), text
        assert max(len(line.rstrip()) for line in text.splitlines()) <= 90
    finally:
        once.close()
    live = Terminal.spawn(
        [*VMX, "candles", "BINANCE", "BTC/USDT", "--watch", "--fps", "10"],
        env,
        columns=90,
        lines=24,
    )
    try:
        first = live.wait_for(lambda t: TITLE.search(t) is not None, 30, "the live chart")
        title = TITLE.search(first)
        assert title is not None
        live.wait_for(
            lambda t: (m := TITLE.search(t)) is not None and m.group(0) != title.group(0),
            30,
            "the chart redrawn by a trade",
        )
        live.send(b"q")
        assert live.wait(15) == 0
    finally:
        live.close()


def test_candles_watch_off_a_terminal_prints_the_newest_candle_as_it_changes(
    engine: tuple[Engine, dict[str, str]],
) -> None:
    import json

    _, env = engine
    engine_has_traded(env)
    result = vmx(env, "candles", "binance", "btc-usdt", "--watch", "--duration", "6", "--fps", "20")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) >= 2, lines  # the stored newest candle, then as the simulator trades
    for line in lines:
        assert (line["exchange"], line["symbol"], line["interval"]) == ("BINANCE", "BTC/USDT", "1m")
        assert line["low"] <= min(line["open"], line["close"]) <= line["high"]
    for before, after in itertools.pairwise(lines):
        assert after["time"] > before["time"] or after["trades"] > before["trades"]
