"""Cumulative depth of both sides as a terminal chart (`vmx watch --chart`). Data in, Text out.

Price runs left to right from the deepest bid shown to the deepest ask shown; each column's
height is the size one would trade to reach that column's price (bids to the left of the
spread, green; asks to the right, red), drawn at 1/8-cell vertical resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.text import Text

from velocimex_cli.wire.numbers import plain

Level = tuple[Decimal, Decimal]
VERTICAL_BLOCKS = (" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█")  # 0/8 .. 8/8 of a cell


def column_depths(
    bids: Sequence[Level], asks: Sequence[Level], columns: int
) -> tuple[list[Decimal], int, int, Decimal, Decimal]:
    """Each column's cumulative size, the number of bid and ask columns, and the price range.

    Column c covers [lower, upper) of the price range; a bid column holds the bid size at or
    above its lower edge, an ask column the ask size at or below its upper edge (so the deepest
    levels count in the edge columns), a column inside the spread 0.
    """
    prices = [p for p, _ in bids] + [p for p, _ in asks]
    low, high = min(prices), max(prices)
    span = high - low
    best_bid = bids[0][0] if bids else None
    best_ask = asks[0][0] if asks else None
    depths: list[Decimal] = []
    bid_columns = ask_columns = 0
    for c in range(columns):
        lower = low + span * c / columns
        upper = low + span * (c + 1) / columns
        if best_bid is not None and lower <= best_bid and (best_ask is None or upper < best_ask):
            depths.append(sum((s for p, s in bids if p >= lower), Decimal(0)))
            bid_columns += 1
        elif best_ask is not None and upper >= best_ask:
            depths.append(sum((s for p, s in asks if p <= upper), Decimal(0)))
            ask_columns += 1
        else:
            depths.append(Decimal(0))
    return depths, bid_columns, ask_columns, low, high


def depth_chart_lines(
    bids: Sequence[Level], asks: Sequence[Level], width: int, height: int, valid: bool = True
) -> list[Text]:
    """Exactly `height` lines of `width` cells: a title, the chart, a price axis."""
    height = max(height, 3)
    rows = height - 2
    if not bids and not asks:
        empty = Text("cumulative depth: the book is empty".ljust(width)[:width], style="dim")
        return [empty] + [Text(" " * width) for _ in range(height - 1)]
    depths, bid_columns, ask_columns, low, high = column_depths(bids, asks, width)
    scale = max(depths) or Decimal(1)
    eighths = [int(d * rows * 8 / scale) if d > 0 else 0 for d in depths]
    eighths = [max(e, 1) if d > 0 else 0 for e, d in zip(eighths, depths, strict=True)]
    bid_style, ask_style = ("green", "red") if valid else ("dim", "dim")
    spread_end = width - ask_columns
    title = f"cumulative depth (max {plain(scale)})"
    if len(title) > width:
        title = f"max {plain(scale)}"
    lines = [Text(title.ljust(width)[:width], style="bold" if valid else "dim")]
    for row in range(rows):
        level = (rows - 1 - row) * 8
        cells = "".join(VERTICAL_BLOCKS[min(8, max(0, e - level))] for e in eighths)
        line = Text(cells, no_wrap=True, overflow="crop")
        line.stylize(bid_style, 0, bid_columns)
        line.stylize(ask_style, spread_end, width)
        lines.append(line)
    left, right = plain(low), plain(high)
    axis = left + " " * max(1, width - len(left) - len(right)) + right
    lines.append(Text(axis[:width], style="dim"))
    return lines
