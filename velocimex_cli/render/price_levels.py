"""Price levels as the ladder draws them: a level's depth bar at 1/8-cell resolution, the
bar's scale in 1, 2, 5 x 10^n steps, and levels merged into price buckets (`--group`)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

Level = tuple[Decimal, Decimal]  # (price, size)

PARTIAL_BLOCKS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")  # 0/8 .. 7/8 of a cell
FULL_BLOCK = "█"


def depth_bar(value: Decimal, scale: Decimal, width: int) -> str:
    """A bar `width` cells wide at 1/8-cell resolution, `value / scale` of it filled.

    Any positive value shows at least one eighth; the result is always exactly `width` long.
    """
    if width <= 0:
        return ""
    if value <= 0 or scale <= 0:
        return " " * width
    eighths = int(value * (width * 8) / scale)
    eighths = max(1, min(eighths, width * 8))
    full, part = divmod(eighths, 8)
    return (FULL_BLOCK * full + PARTIAL_BLOCKS[part]).ljust(width)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 x 10^n at or above `value`: the bar scale, which then moves
    only when the depth crosses such a step (the bars do not all jump with every change)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for mantissa in (1, 2, 5, 10):
        step = Decimal(mantissa).scaleb(exponent)
        if step >= value:
            return step.normalize() if step < 1 else step.quantize(Decimal(1))
    return Decimal(10).scaleb(exponent)  # unreachable: 10 x 10^n >= any value of that order


def group_price(price: Decimal, step: Decimal, side: str) -> Decimal:
    """The bucket a price falls in: bids round down, asks up (a bucket never looks better)."""
    rounding = ROUND_FLOOR if side == "bid" else ROUND_CEILING
    return (price / step).to_integral_value(rounding=rounding) * step


def group_levels(levels: Sequence[Level], step: Decimal, side: str) -> list[Level]:
    """Levels (best first) merged into price buckets of `step`; sizes summed, best first."""
    out: list[Level] = []
    for price, size in levels:
        bucket = group_price(price, step, side)
        if out and out[-1][0] == bucket:
            out[-1] = (bucket, out[-1][1] + size)
        else:
            out.append((bucket, size))
    return out
