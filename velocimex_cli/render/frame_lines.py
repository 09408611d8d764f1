"""A frame's lines of Rich Text cut to the screen's width, and a number's cell text: the ladder's
and the boards' renderers each build their frame from these."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.text import Text

from velocimex_cli.wire.numbers import plain


def fit_lines(lines: Sequence[Text], width: int) -> list[Text]:
    """These lines, each cut to `width` cells (cached lines are copied, never modified)."""
    fitted = []
    for line in lines:
        if line.cell_len > width:
            line = line.copy()
            line.truncate(width)
        fitted.append(line)
    return fitted


def join_lines(lines: Sequence[Text], width: int) -> Text:
    """One Text of these lines, each cut to `width` cells."""
    frame = Text("\n").join(fit_lines(lines, width))
    frame.no_wrap = True
    frame.overflow = "crop"
    return frame


def number_cell(value: Decimal | None) -> str:
    """A number as a board cell: plain notation, "-" where there is none."""
    return "-" if value is None else plain(value)
