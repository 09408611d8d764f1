"""A live board of many instruments (`vmx ticker --watch`): last, change, bid, ask, volume.

`TickerBoard` folds `ticker` messages into one row per instrument (pure, no I/O, no clock);
`render_ticker_board` draws it. The change is measured from the first price the board saw for
the instrument (the API's ticker has no opening price); the last price is green or red when its
latest move was up or down. Widths only grow, so the board does not jump.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from velocimex_cli.render.ladder import join_lines
from velocimex_cli.wire.numbers import parse_decimal, plain

_CENT = Decimal("0.01")
COLUMNS = ("instrument", "last", "change", "change %", "bid", "ask", "volume 24h")


@dataclass
class TickerRow:
    exchange: str
    symbol: str
    last: Decimal | None = None
    first: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal | None = None
    tick: int = 0  # +1 last moved up, -1 down, 0 unchanged (since the previous message)

    @property
    def change(self) -> Decimal | None:
        if self.last is None or self.first is None:
            return None
        return self.last - self.first

    @property
    def change_percent(self) -> Decimal | None:
        change = self.change
        if change is None or not self.first:
            return None
        return (change / self.first * 100).quantize(_CENT)


class TickerBoard:
    """One row per instrument, in the order they were asked for (or first seen)."""

    def __init__(self, instruments: list[tuple[str, str]] | None = None) -> None:
        self.rows: dict[tuple[str, str], TickerRow] = {}
        self.only = set(instruments) if instruments else None
        for exchange, symbol in instruments or []:
            self.rows[(exchange, symbol)] = TickerRow(exchange, symbol)

    def apply(self, message: Mapping) -> bool:
        """Fold one stream message in; True when the board changed."""
        if message.get("type") != "ticker":
            return False
        key = (str(message.get("exchange")), str(message.get("symbol")))
        if self.only is not None and key not in self.only:
            return False
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = TickerRow(*key)
        last = parse_decimal(message.get("price"))
        before = (row.last, row.bid, row.ask, row.volume)
        if last is not None:
            if row.first is None:
                row.first = last
            row.tick = 0 if row.last is None or last == row.last else (1 if last > row.last else -1)
            row.last = last
        row.bid = parse_decimal(message.get("bid"))
        row.ask = parse_decimal(message.get("ask"))
        row.volume = parse_decimal(message.get("volume"))
        return before != (row.last, row.bid, row.ask, row.volume)


def _text(value: Decimal | None) -> str:
    return "-" if value is None else plain(value)


class TickerBoardRenderer:
    def __init__(self) -> None:
        self.widths = [len(c) for c in COLUMNS]

    def render(self, board: TickerBoard, width: int, height: int, connection: str = "live") -> Text:
        rows = list(board.rows.values())
        cells = []
        for row in rows:
            change, percent = row.change, row.change_percent
            sign = "+" if change is not None and change > 0 else ""
            cells.append(
                (
                    f"{row.exchange}:{row.symbol}",
                    _text(row.last),
                    "-" if change is None else sign + plain(change),
                    "-" if percent is None else f"{sign}{plain(percent)}%",
                    _text(row.bid),
                    _text(row.ask),
                    _text(row.volume),
                )
            )
        for values in cells:
            self.widths = [max(w, len(v)) for w, v in zip(self.widths, values, strict=True)]
        lines: list[Text] = []
        title = Text("tickers", style="bold")
        label = Text(
            f" ● {connection} ",
            style="bold green" if connection == "live" else "bold black on yellow",
        )
        hint = "q quit "
        title.append(" " * max(1, width - title.cell_len - label.cell_len - len(hint)) + hint)
        title.append_text(label)
        lines.append(title)
        heading = "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(COLUMNS, self.widths, strict=True))
        )
        lines.append(Text(heading, style="bold"))
        stale = connection != "live"
        for row, values in zip(rows, cells, strict=True):
            line = Text(values[0].ljust(self.widths[0]), style="bold" if not stale else "dim")
            last_style = {1: "bold green", -1: "bold red"}.get(row.tick, "")
            change = row.change
            change_style = (
                "green" if change and change > 0 else "red" if change and change < 0 else ""
            )
            styles = (last_style, change_style, change_style, "green", "red", "")
            for value, w, style in zip(values[1:], self.widths[1:], styles, strict=True):
                line.append("  " + value.rjust(w), style="dim" if stale else style)
            lines.append(line)
        if not rows:
            lines.append(Text("waiting for the first tickers…", style="dim"))
        return join_lines(lines[:height], width)
