"""The order-book ladder: asks above, bids below, around the spread. Data in, Rich Text out.

No I/O and no clock: `LadderView` (ladder_view.py) is everything one frame shows,
`LadderRenderer.render(view, width, height)` turns it into one `rich.text.Text` that fills
exactly `height` lines of `width` cells. The renderer keeps two things between frames so the
screen stays calm and cheap:

- column widths only ever grow (a longer price never makes the columns jump back and forth);
- rendered rows are cached by their content, so a frame where three levels changed builds
  three new rows and reuses the rest.

A book that is not known to be right is never drawn as if it were: while syncing,
resyncing, reconnecting, while a mirrored exchange's feed is down (`feed_down`, from the
stream's `book_status`) or when the best bid is not below the best ask, the levels are dimmed
and the header and the spread line say why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from velocimex_cli.render.frame_lines import fit_lines, join_lines, number_cell
from velocimex_cli.render.ladder_view import (
    CENT,
    BookFigures,
    BookState,
    LadderView,
    book_figures,
    book_state,
)
from velocimex_cli.render.price_levels import (
    Level,
    depth_bar,
    group_levels,
    group_price,
    nice_ceiling,
)
from velocimex_cli.render.tape import TapeRenderer
from velocimex_cli.wire.numbers import plain

Row = list[tuple[int, Text]]  # a screen row as (column, text) parts, left to right

HEADER_LINES = 3
TAPE_GAP = 3
MIN_BAR = 6
MAX_BAR = 48
_SIDE_STYLE = {"ask": "red", "bid": "green"}


@dataclass
class _Columns:
    own: int
    price: int
    size: int
    cumulative: int
    bar: int

    @property
    def fixed(self) -> int:
        used = [w for w in (self.own, self.price, self.size, self.cumulative) if w]
        return sum(used) + 2 * len(used)


class LadderRenderer:
    """Turns `LadderView`s into screens; keeps sticky column widths and a row cache."""

    def __init__(self) -> None:
        self.price_width = 8
        self.size_width = 8
        self.cumulative_width = 10
        self.own_width = 10
        self.tape = TapeRenderer()
        self._rows: dict[tuple, Text] = {}
        self.rows_built = 0  # how many rows were not in the cache (tests and benchmarks read it)

    # ------------------------------------------------------------------ layout
    def _grow_widths(self, levels: Sequence[Level], cumulative: Decimal, own: Mapping) -> None:
        grew = False
        for price, size in levels:
            if len(plain(price)) > self.price_width:
                self.price_width, grew = len(plain(price)), True
            if len(plain(size)) > self.size_width:
                self.size_width, grew = len(plain(size)), True
        if len(plain(cumulative)) > self.cumulative_width:
            self.cumulative_width, grew = len(plain(cumulative)), True
        for remaining in own.values():
            if len(plain(remaining)) + 2 > self.own_width:
                self.own_width, grew = len(plain(remaining)) + 2, True
        if grew:
            self._rows.clear()

    def _columns(self, width: int, with_tape: bool) -> _Columns:
        columns = _Columns(
            self.own_width, self.price_width, self.size_width, self.cumulative_width, 0
        )
        room = width - (self.tape.width + TAPE_GAP if with_tape else 0)
        # Narrow: the cumulative column goes first, then the own-order column (own orders stay
        # marked by their price's style), then the bar shrinks to nothing.
        if room - columns.fixed < MIN_BAR:
            columns.cumulative = 0
        if room - columns.fixed < MIN_BAR:
            columns.own = 0
        columns.bar = max(0, min(MAX_BAR, room - columns.fixed))
        return columns

    def ladder_width(self, width: int, with_tape: bool) -> int:
        columns = self._columns(width, with_tape)
        return columns.fixed + columns.bar

    def shows_tape(self, width: int) -> bool:
        """The tape is shown only when the full ladder (with a useful bar) fits beside it."""
        full = self.own_width + self.price_width + self.size_width + self.cumulative_width + 8
        return width >= full + MIN_BAR + TAPE_GAP + self.tape.width

    # ------------------------------------------------------------------ rows
    def _row(
        self,
        side: str,
        level: Level | None,
        cumulative: Decimal,
        bar: str,
        own: Decimal | None,
        valid: bool,
        columns: _Columns,
    ) -> Text:
        key = (
            side,
            level,
            cumulative,
            bar,
            own,
            valid,
            columns.own,
            columns.cumulative,
            columns.bar,
        )
        row = self._rows.get(key)
        if row is not None:
            return row
        self.rows_built += 1
        if len(self._rows) > 8192:
            self._rows.clear()
        style = _SIDE_STYLE[side] if valid else "dim"
        row = Text(no_wrap=True, overflow="crop")
        if columns.own:
            mark = f"▶ {plain(own)}" if own is not None else ""
            row.append(mark.rjust(columns.own), style="bold yellow" if own is not None else "")
            row.append("  ")
        if level is None:
            blank = columns.price + 2 + columns.size
            if columns.cumulative:
                blank += 2 + columns.cumulative
            row.append(" " * (blank + 2 + columns.bar))
            self._rows[key] = row
            return row
        price, size = level
        price_style = style + (" reverse bold" if own is not None and valid else "")
        row.append(plain(price).rjust(columns.price), style=price_style)
        row.append("  " + plain(size).rjust(columns.size), style="" if valid else "dim")
        if columns.cumulative:
            row.append("  " + plain(cumulative).rjust(columns.cumulative), style="dim")
        row.append("  ")
        row.append(bar, style=style)
        self._rows[key] = row
        return row

    def _side_rows(
        self,
        side: str,
        levels: Sequence[Level],
        count: int,
        scale: Decimal,
        own: Mapping[tuple[str, Decimal], Decimal],
        valid: bool,
        columns: _Columns,
    ) -> list[Text]:
        """`count` rows for one side, nearest the spread last for asks, first for bids."""
        rows: list[Text] = []
        cumulative = Decimal(0)
        for level in levels[:count]:
            cumulative += level[1]
            bar = depth_bar(cumulative, scale, columns.bar)
            rows.append(
                self._row(side, level, cumulative, bar, own.get((side, level[0])), valid, columns)
            )
        rows.extend(
            self._row(side, None, Decimal(0), "", None, valid, columns)
            for _ in range(count - len(rows))
        )
        if side == "ask":
            rows.reverse()
        return rows

    # ------------------------------------------------------------------ the frame
    def render(self, view: LadderView, width: int, height: int, chart: bool = False) -> Text:
        """One frame: `height` lines of at most `width` cells, as one Text."""
        return join_lines(self.render_lines(view, width, height, chart), width)

    def render_lines(
        self, view: LadderView, width: int, height: int, chart: bool = False
    ) -> list[Text]:
        """One frame as its `height` lines, each at most `width` cells."""
        lines = []
        for parts in self.render_rows(view, width, height, chart):
            if len(parts) == 1:
                lines.append(parts[0][1])
                continue
            line = Text()
            for column, part in parts:
                line.append(" " * (column - line.cell_len))
                line.append_text(part)
            lines.append(line)
        return fit_lines(lines, width)

    def render_rows(
        self,
        view: LadderView,
        width: int,
        height: int,
        chart: bool = False,
        depth: int | None = None,
    ) -> list[Row]:
        """One frame as `height` rows of (column, Text) parts: the ladder at column 0 and, when
        it fits, the tape to its right. Unchanged rows and tape lines are the same cached
        objects as last frame, so a painter that remembers what each region shows can skip
        them (the tape scrolls by whole lines while the ladder mostly stays put)."""
        width = max(width, 20)
        per_side = max(1, (height - HEADER_LINES - 2) // 2)
        if depth is not None:
            per_side = min(per_side, depth)
        bids, asks = list(view.bids), list(view.asks)
        # The header's figures are the book's own: a grouped bucket's price is not a quote.
        true_figures = book_figures(bids[:per_side], asks[:per_side])
        own = dict(view.own)
        if view.group_step:
            bids = group_levels(bids, view.group_step, "bid")
            asks = group_levels(asks, view.group_step, "ask")
            grouped: dict[tuple[str, Decimal], Decimal] = {}
            for (side, price), remaining in own.items():
                key = (side, group_price(price, view.group_step, side))
                grouped[key] = grouped.get(key, Decimal(0)) + remaining
            own = grouped
        bids, asks = bids[:per_side], asks[:per_side]
        figures = true_figures
        state = book_state(view, figures)
        bid_total = sum((size for _, size in bids), Decimal(0))
        ask_total = sum((size for _, size in asks), Decimal(0))
        self._grow_widths(bids + asks, max(bid_total, ask_total), own)

        with_tape = self.shows_tape(width)
        columns = self._columns(width, with_tape)
        ladder_width = columns.fixed + columns.bar
        if chart:
            from velocimex_cli.render.depth_chart import depth_chart_lines

            body = depth_chart_lines(bids, asks, ladder_width, height - HEADER_LINES, state.valid)
        else:
            scale = nice_ceiling(max(bid_total, ask_total))
            body = [self._heading(columns, scale)]
            body += self._side_rows("ask", asks, per_side, scale, own, state.valid, columns)
            body.append(self._spread_line(figures, state, ladder_width))
            body += self._side_rows("bid", bids, per_side, scale, own, state.valid, columns)
        header = self._header(view, figures, state, own, width, bids, asks)
        rows: list[Row] = [[(0, line)] for line in header]
        if with_tape:
            tape = self.tape.lines(view.trades, len(body) - 1)
            column = ladder_width + TAPE_GAP
            rows += [
                [(0, line), (column, tape_line)] for line, tape_line in zip(body, tape, strict=True)
            ]
        else:
            rows += [[(0, line)] for line in body]
        rows.extend([(0, Text(""))] for _ in range(height - len(rows)))
        return rows[:height]

    def _heading(self, columns: _Columns, scale: Decimal) -> Text:
        text = ""
        if columns.own:
            text += "mine".rjust(columns.own) + "  "
        text += "price".rjust(columns.price) + "  " + "size".rjust(columns.size)
        if columns.cumulative:
            text += "  " + "cumulative".rjust(columns.cumulative)
        if columns.bar:
            label = f"depth (full bar {plain(scale)})"
            text += "  " + (label if len(label) <= columns.bar else "depth").ljust(columns.bar)
        return Text(text, style="bold")

    def _spread_line(self, figures: BookFigures, state: BookState, width: int) -> Text:
        if not state.valid:
            return Text(f" ⚠ {state.reason} ".center(width, "─")[:width], style=state.style)
        if figures.spread is not None:
            text = f" spread {plain(figures.spread)} · {plain(figures.spread_bps)} bps "  # type: ignore[arg-type]  # a spread: both
        elif figures.best_bid is None and figures.best_ask is None:
            text = " the book is empty "
        elif figures.best_ask is None:
            text = " no asks "
        else:
            text = " no bids "
        return Text(text.center(width, "─")[:width], style="dim")

    def _header(
        self,
        view: LadderView,
        figures: BookFigures,
        state: BookState,
        own: Mapping[tuple[str, Decimal], Decimal],
        width: int,
        bids: Sequence[Level],
        asks: Sequence[Level],
    ) -> list[Text]:
        first = Text(no_wrap=True, overflow="crop")
        first.append(f"{view.exchange} {view.symbol}", style="bold")
        first.append("  last ")
        if view.last_price is None:
            first.append("-", style="dim")
        else:
            first.append(plain(view.last_price), style="bold")
            if view.reference_price is not None and view.reference_price > 0:
                change = view.last_price - view.reference_price
                percent = (change / view.reference_price * 100).quantize(CENT)
                style = "green" if change > 0 else "red" if change < 0 else "dim"
                arrow = "▲" if change > 0 else "▼" if change < 0 else "="
                sign = "+" if change >= 0 else ""
                first.append(
                    f" {arrow} {sign}{plain(change)} ({sign}{plain(percent)}%)", style=style
                )
        label = Text(f" ● {state.label} ", style=state.style)
        if label.cell_len > width - 20:  # a long reason (feed down: ...) leaves the name room
            label.truncate(max(12, width - 21))
            label.append("… ")
        first.truncate(max(0, width - label.cell_len - 1))
        pad = width - first.cell_len - label.cell_len
        first.append(" " * max(1, pad))
        first.append_text(label)

        second = Text(no_wrap=True, overflow="crop", style="" if state.valid else "dim")
        second.append(f"mid {number_cell(figures.mid)}  spread {number_cell(figures.spread)}")
        second.append(f" ({number_cell(figures.spread_bps)} bps)")
        if figures.imbalance is not None:
            sign = "+" if figures.imbalance > 0 else ""
            second.append(f"  imbalance {sign}{plain(figures.imbalance)}")
        else:
            second.append("  imbalance -")
        second.append(f"  seq {view.sequence if view.sequence is not None else '-'}")
        if view.group_step:
            ticks = f" ({view.group_ticks} ticks)" if view.group_ticks else ""
            second.append(f"  group {plain(view.group_step)}{ticks}")

        third = Text(no_wrap=True, overflow="crop", style="dim")
        third.append(f"msgs/s {_figure(view.messages_per_second, 0)}")
        if not view.replay:  # a recording's age is not a lag
            third.append(f"  lag {_figure(view.lag_ms, 0)} ms")
        third.append(f"  fps {_figure(view.frames_per_second, 1)}")
        if view.own:
            shown = {("bid", p) for p, _ in bids} | {("ask", p) for p, _ in asks}
            off = sum(1 for key in own if key not in shown)
            count = len(own)
            third.append(f"  own orders at {count} level{'' if count == 1 else 's'}")
            if off:
                third.append(f" ({off} off screen)", style="yellow")
        if view.note:
            third.append(f"  {view.note}", style="yellow")
        hint = f"  {view.hint}"
        third.append(" " * max(1, width - third.cell_len - len(hint)) + hint)
        return [first, second, third]


def _figure(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
