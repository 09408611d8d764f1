"""A candlestick chart: candles in, a Rich `Text` of exactly the asked size out (no I/O).

Each candle is one column (a blank column between candles when there is room), the newest at
the right; the price axis is on the right, the first and last candles' times under the chart.
Rows are split in halves with the half blocks, so a body is drawn to half a row:

- a candle that closed at or above its open: a solid body (`█`, `▀`, `▄`), green;
- one that closed below its open: a shaded body (`▒`), red;
- the wick (high to low) `│` above and below the body.

The shapes alone tell up from down, so the chart reads the same without colour. Prices are
placed by exact decimal arithmetic (never floats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from rich.text import Text

from velocimex_cli.wire.numbers import plain

UP_STYLE = "green"
DOWN_STYLE = "red"
AXIS_STYLE = "dim"
LEGEND = "█ up  ▒ down"
MIN_ROWS = 3  # chart rows (besides the title and time lines) below which nothing is drawn
AXIS_EVERY = 3  # a price label on every third row (and the top and bottom ones)

Candle = Mapping[str, Any]


def columns_for(width: int) -> int:
    """How many candles a chart `width` cells wide shows (the axis takes its share; a guess
    of ten cells before the labels are known)."""
    return max(1, (width - 11) // 2)


def candle_chart(candles: Sequence[Candle], width: int, height: int, title: str = "") -> Text:
    """`height` lines of `width` cells: a title line, the chart, then the time line."""
    width = max(width, 1)
    lines: list[Text] = [Text(title[:width], style="bold")]
    rows = height - 2
    highs: list[Decimal] = []
    lows: list[Decimal] = []
    usable: list[Candle] = []
    for candle in candles:  # a candle without a high and low (malformed) is left out
        top, bottom = _price(candle, "high"), _price(candle, "low")
        if top is not None and bottom is not None:
            highs.append(top)
            lows.append(bottom)
            usable.append(candle)
    if rows < MIN_ROWS or not usable:
        if height >= 2:
            lines.append(Text("no candles yet: no trades in this period"[:width], style="dim"))
        return _fit(lines, height)
    high, low = max(highs), min(lows)
    labels = [_label(_row_price(row, rows, low, high)) for row in range(rows)]
    axis = max(len(label) for label in labels) + 2  # " ┤" + label
    room = max(1, width - axis)
    step = 2 if room >= 2 * min(len(usable), room) else 1
    shown = usable[-max(1, room // step) :] if step == 2 else usable[-room:]
    offset = max(0, room - ((len(shown) - 1) * step + 1))  # the newest next to the axis
    grid = [[(" ", "")] * room for _ in range(rows)]
    for index, candle in enumerate(shown):
        column = offset + index * step
        for row, cell in enumerate(_column(candle, rows, low, high)):
            grid[row][column] = cell
    last_close = _price(shown[-1], "close")
    close_row, close_label = -1, ""
    if last_close is not None:
        close_row, close_label = _row_of(last_close, rows, low, high), _label(last_close)
    for row in range(rows):
        line = Text()
        for char, style in grid[row]:
            line.append(char, style=style)
        if row == close_row:
            line.append(" ◀" + close_label, style="bold")
        elif row % AXIS_EVERY == 0 or row == rows - 1:
            line.append(" ┤" + labels[row], style=AXIS_STYLE)
        else:
            line.append(" │", style=AXIS_STYLE)
        lines.append(line)
    lines.append(_time_line(shown, offset, room, width))
    return _fit(lines, height)


def _fit(lines: list[Text], height: int) -> Text:
    lines = lines[:height]
    while len(lines) < height:
        lines.append(Text(""))
    return Text("\n").join(lines)


def _price(candle: Candle, field: str) -> Decimal | None:
    value = candle.get(field)
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _label(price: Decimal) -> str:
    return plain(price)


def _halves(price: Decimal, rows: int, low: Decimal, high: Decimal) -> int:
    """The half-row a price falls in, 0 at the bottom, 2 * rows - 1 at the top."""
    top = 2 * rows - 1
    if high == low:
        return top // 2
    position = (price - low) * top / (high - low)
    return int(position.to_integral_value(ROUND_FLOOR) if position < top else top)


def _row_of(price: Decimal, rows: int, low: Decimal, high: Decimal) -> int:
    """The screen row (0 at the top) of a price."""
    return rows - 1 - _halves(price, rows, low, high) // 2


def _row_price(row: int, rows: int, low: Decimal, high: Decimal) -> Decimal:
    """The price at the middle of screen row `row`, rounded to the prices' own digits."""
    if high == low:
        return high
    exponent = min(_exponent(high), _exponent(low))
    middle = Decimal(2 * (rows - 1 - row) + 1) / Decimal(2 * rows)
    price = low + (high - low) * middle
    return price.quantize(Decimal(1).scaleb(exponent))


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _column(candle: Candle, rows: int, low: Decimal, high: Decimal) -> list[tuple[str, str]]:
    """The cells of one candle, top row first."""
    open_, close = _price(candle, "open"), _price(candle, "close")
    top_price, bottom_price = _price(candle, "high"), _price(candle, "low")
    assert top_price is not None and bottom_price is not None
    if open_ is None or close is None:
        open_ = close = top_price
    up = close >= open_
    style = UP_STYLE if up else DOWN_STYLE
    wick_top = _halves(top_price, rows, low, high)
    wick_bottom = _halves(bottom_price, rows, low, high)
    body_top = _halves(max(open_, close), rows, low, high)
    body_bottom = _halves(min(open_, close), rows, low, high)
    cells: list[tuple[str, str]] = []
    for row in range(rows):
        upper = 2 * (rows - 1 - row) + 1  # the row's two halves
        lower = upper - 1
        in_upper = body_bottom <= upper <= body_top
        in_lower = body_bottom <= lower <= body_top
        if in_upper or in_lower:
            if not up:
                char = "▒"
            elif in_upper and in_lower:
                char = "█"
            else:
                char = "▀" if in_upper else "▄"
            cells.append((char, style))
        elif wick_bottom <= upper and lower <= wick_top:
            cells.append(("│", style))
        else:
            cells.append((" ", ""))
    return cells


def _time_line(shown: Sequence[Candle], offset: int, room: int, width: int) -> Text:
    """The newest candle's time ending under it, the oldest one's starting under it when they
    do not meet, and the legend at the left where there is room for it."""
    cells = [" "] * width
    last = _when(shown[-1])
    start = max(0, room - len(last))
    cells[start : start + len(last)] = last
    leftmost = start
    first = _when(shown[0])
    if len(shown) > 1 and offset + len(first) + 1 < start:
        cells[offset : offset + len(first)] = first
        leftmost = offset
    if len(LEGEND) + 2 <= leftmost:
        cells[: len(LEGEND)] = LEGEND
    return Text("".join(cells[:width]).rstrip(), style=AXIS_STYLE)


def _when(candle: Candle) -> str:
    """A candle's open time, short: the time of day (UTC), or the date at midnight."""
    raw = candle.get("time")
    if not isinstance(raw, str):
        return "?"
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%H:%M")
