"""The candlestick chart (render/candles.py): candles in, a renderable of the asked size out,
drawn on a captured console; and the live candles it is fed from (client/candles.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.render.conftest import screen, styled
from velocimex_cli.client.candles import LiveCandles
from velocimex_cli.render.candles import candle_chart

D = Decimal


def candle(minute: int, open_: str, high: str, low: str, close: str) -> dict[str, Any]:
    return {"time": f"2026-11-24T15:{minute:02d}:00.000000Z", "open": D(open_), "high": D(high),
            "low": D(low), "close": D(close), "volume": D("1.00000"), "trades": 2}  # fmt: skip


# An up candle from 100 to 110 (wicks 95-115), then a down one from 110 to 100 (105-... ).
UP = candle(0, "100.00", "115.00", "95.00", "110.00")
DOWN = candle(1, "110.00", "112.00", "90.00", "100.00")


def columns_of(lines: list[str], width: int) -> list[str]:
    """The chart's columns (top to bottom), of the rows between the title and the time line."""
    rows = [line.ljust(width) for line in lines[1:-1]]
    return ["".join(row[c] for row in rows) for c in range(width)]


@pytest.mark.parametrize(("width", "height"), [(60, 14), (30, 8), (120, 30)])
def test_the_chart_is_exactly_the_asked_size(width: int, height: int) -> None:
    lines = screen(candle_chart([UP, DOWN], width, height, "BINANCE BTC/USDT · 1m"), width, height)
    assert len(lines) == height
    assert all(len(line) <= width for line in lines)
    assert lines[0] == "BINANCE BTC/USDT · 1m"


def test_up_is_solid_down_is_shaded_and_wicks_reach_high_and_low() -> None:
    width, height = 40, 22
    lines = screen(candle_chart([UP, DOWN], width, height), width, height)
    drawn = [
        column for column in columns_of(lines, width) if column.strip(" ") and "┤" not in column
    ]
    up, down = drawn[0], drawn[1]
    assert set(up.strip()) <= set("│█▀▄") and "█" in up and "▒" not in up
    assert set(down.strip()) <= set("│▒") and "▒" in down
    # Scale: 90 (bottom) .. 115 (top) over 20 rows. The up candle's wick reaches the top
    # row (its high is the chart's); the down one's the bottom row (its low is).
    assert up[0] == "│" and down[0] == " "
    assert down[-1] == "│" and up[-1] == " "
    # The bodies: the up one 100-110, the down one 100-110 too: the same rows.
    assert [i for i, c in enumerate(up) if c in "█▀▄"] == [
        i for i, c in enumerate(down) if c == "▒"
    ]


def test_the_axis_labels_prices_and_marks_the_last_close() -> None:
    width, height = 50, 12
    lines = screen(candle_chart([UP, DOWN], width, height), width, height)
    body = lines[1:-1]
    # Each label is its row's middle price: 90 .. 115 over 10 rows, 2.50 a row.
    assert body[0].endswith("┤113.75") and body[-1].endswith("┤91.25")
    marked = [line for line in body if "◀" in line]
    assert len(marked) == 1 and marked[0].endswith("◀100.00")  # the last close
    labels = [D(line.split("┤")[1]) for line in body if "┤" in line]
    assert labels == sorted(labels, reverse=True) and labels[0] <= D("115.00")
    assert labels[-1] >= D("90.00")
    assert lines[-1].split() == ["█", "up", "▒", "down", "15:01"]  # the newest candle's time


def test_colours_green_up_red_down() -> None:
    text = styled(candle_chart([UP, DOWN], 40, 12), 40, 12)
    assert "\x1b[32m█" in text  # green solid
    assert "\x1b[31m▒" in text  # red shaded


def test_a_narrow_chart_shows_the_newest_candles_that_fit() -> None:
    many = [candle(m, "100.00", "101.00", "99.00", str(100 + m % 2) + ".00") for m in range(50)]
    width = 30
    lines = screen(candle_chart(many, width, 10), width, 10)
    assert lines[-1].strip().endswith("15:49")  # the newest one is shown, at the right
    bodies = [c for c in columns_of(lines, width) if set(c) & set("█▀▄▒")]
    assert 15 < len(bodies) < 50  # one column each, no gaps: as many as the width holds


def test_no_candles_says_so_and_a_flat_market_still_draws() -> None:
    lines = screen(candle_chart([], 40, 6, "title"), 40, 6)
    assert lines[1] == "no candles yet: no trades in this period"
    flat = candle(0, "100.00", "100.00", "100.00", "100.00")
    lines = screen(candle_chart([flat], 40, 8), 40, 8)
    assert sum("█" in line or "▀" in line or "▄" in line for line in lines[1:-1]) == 1


def trade(timestamp: str, price: str, quantity: str) -> dict[str, Any]:
    return {"type": "trade", "exchange": "BINANCE", "symbol": "BTC/USDT", "price": D(price),
            "quantity": D(quantity), "side": "buy", "timestamp": timestamp}  # fmt: skip


def test_live_candles_fold_trades_into_their_period() -> None:
    live = LiveCandles("BINANCE", "BTC/USDT", "1m", keep=3)
    live.load({"candles": [dict(UP), dict(DOWN)]})
    assert live.apply(trade("2026-11-24T15:01:59.999999Z", "120.00", "0.5"))
    assert live.candles[-1]["high"] == D("120.00") and live.candles[-1]["close"] == D("120.00")
    assert live.candles[-1]["volume"] == D("1.50000") and live.candles[-1]["trades"] == 3
    assert live.apply(trade("2026-11-24T15:02:00.000000Z", "119.00", "0.1"))  # a new minute
    assert [c["time"][11:16] for c in live.candles] == ["15:00", "15:01", "15:02"]
    assert live.candles[-1]["open"] == live.candles[-1]["close"] == D("119.00")
    assert live.apply(trade("2026-11-24T15:03:00.000000Z", "118.00", "0.1"))
    assert [c["time"][11:16] for c in live.candles] == ["15:01", "15:02", "15:03"]  # keep 3
    assert not live.apply(trade("2026-11-24T14:00:00.000000Z", "1.00", "1"))  # too old
    assert not live.apply({**trade("2026-11-24T15:03:00.000000Z", "1.00", "1"), "symbol": "X"})
    assert not live.apply({"type": "ticker", "exchange": "BINANCE", "symbol": "BTC/USDT"})
