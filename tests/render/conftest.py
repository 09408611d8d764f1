"""Helpers for render tests: a captured Rich console of a given size, and sample books."""

from __future__ import annotations

import io
from decimal import Decimal

from rich.console import Console, RenderableType

D = Decimal


def screen(renderable: RenderableType, width: int, height: int) -> list[str]:
    """What a terminal of width x height shows: the lines, right-stripped."""
    console = Console(
        file=io.StringIO(), width=width, height=height, record=True, color_system="truecolor"
    )
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def styled(renderable: RenderableType, width: int, height: int) -> str:
    """The same, with ANSI styles, to check colours."""
    console = Console(
        file=io.StringIO(), width=width, height=height, record=True, color_system="standard"
    )
    console.print(renderable)
    return console.export_text(styles=True)


def book(levels: int = 20) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    bids = [(D("60000.00") - D(i) * D("5.99"), D("0.10000") + D(i) / 100) for i in range(levels)]
    asks = [(D("60010.00") + D(i) * D("5.99"), D("0.20000") + D(i) / 50) for i in range(levels)]
    return bids, asks
