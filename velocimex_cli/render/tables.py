"""Rich renderables for API data. No I/O: give it data, get something a Console can print.

Numbers are printed exactly as the API sent them (str of the Decimal), never reformatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

_SIDE_STYLE = {"buy": "green", "sell": "red", "bid": "green", "ask": "red"}
_STATUS_STYLE = {
    "open": "cyan",
    "partially_filled": "yellow",
    "filled": "green",
    "canceled": "dim",
    "rejected": "red",
    "closed": "red",
}


def cell(value: Any, column: str = "") -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, dict | list):
        from velocimex_cli.wire import jsonfmt

        return Text(jsonfmt.dumps(value))
    text = str(value)
    if column == "side":
        return Text(text, style=_SIDE_STYLE.get(text, ""))
    if column == "status":
        return Text(text, style=_STATUS_STYLE.get(text, ""))
    return Text(text)


_NUMERIC = {
    "price",
    "quantity",
    "filled_quantity",
    "average_price",
    "total",
    "available",
    "locked",
    "market_price",
    "realized_pnl",
    "unrealized_pnl",
    "fee",
    "volume",
    "bid",
    "ask",
    "tick_size",
    "lot_size",
    "min_quantity",
    "sequence",
    "equity",
}


# Dropped first, in this order, when a table is wider than the screen.
_LEAST_NEEDED = (
    "updated_at",
    "client_order_id",
    "timestamp",
    "reason",
    "time_in_force",
    "post_only",
    "average_price",
    "filled_quantity",
    "type",
    "liquidity",
    "fee_asset",
    "last_update",
    "pnl_asset",
)


class FittedTable:
    """A records table that fits the console: least-needed columns go first, nothing is cut."""

    def __init__(self, rows: Sequence[Any], columns: Sequence[str], title: str | None) -> None:
        self.rows = [row for row in rows if isinstance(row, dict)]
        self.columns = list(columns)
        self.title = title

    def _cells(self) -> list[list[Text]]:
        return [[cell(row.get(c), c) for c in self.columns] for row in self.rows]

    def _widths(self, columns: list[str], cells: list[list[Text]]) -> list[int]:
        index = {c: i for i, c in enumerate(self.columns)}
        return [max([len(c), *(len(r[index[c]]) for r in cells)]) for c in columns]

    def build(self, max_width: int | None = None) -> Table:
        cells = self._cells()
        columns = list(self.columns)
        if max_width is not None:
            for victim in _LEAST_NEEDED:
                if sum(self._widths(columns, cells)) + 3 * (len(columns) - 1) <= max_width:
                    break
                if victim in columns and len(columns) > 2:
                    columns.remove(victim)
        index = {c: i for i, c in enumerate(self.columns)}
        table = Table(title=self.title, show_edge=False, header_style="bold", pad_edge=False)
        for column, width in zip(columns, self._widths(columns, cells), strict=True):
            table.add_column(
                column,
                justify="right" if column in _NUMERIC else "left",
                no_wrap=True,
                min_width=width,  # never shortened: ids and numbers are shown whole
            )
        for row_cells in cells:
            table.add_row(*(row_cells[index[c]] for c in columns))
        if not self.rows:
            table.caption = "(none)"
        return table

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.build(options.max_width)


def records_table(
    rows: Sequence[Any], columns: Sequence[str] | None = None, title: str | None = None
) -> FittedTable:
    if columns is None:
        seen: list[str] = []
        for row in rows:
            if isinstance(row, dict):
                seen.extend(k for k in row if k not in seen)
        columns = seen
    return FittedTable(rows, columns, title)


def detail_table(record: dict[str, Any]) -> Table:
    """One record as field/value lines (an order, a deployment)."""
    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, cell(value, key))
    return table


MARKET_STATUS_COLUMNS = ("exchange", "status", "last_update")
MARKET_COLUMNS = (
    "exchange",
    "symbol",
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_quantity",
    "status",
)
ORDER_COLUMNS = (
    "order_id",
    "client_order_id",
    "exchange",
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "filled_quantity",
    "average_price",
    "status",
    "timestamp",
)
FILL_COLUMNS = (
    "trade_id",
    "order_id",
    "exchange",
    "symbol",
    "side",
    "price",
    "quantity",
    "fee",
    "fee_asset",
    "liquidity",
    "timestamp",
)
BALANCE_COLUMNS = ("asset", "total", "available", "locked")
POSITION_COLUMNS = (
    "exchange",
    "symbol",
    "quantity",
    "average_price",
    "market_price",
    "realized_pnl",
    "unrealized_pnl",
    "pnl_asset",
)
TICKER_COLUMNS = ("exchange", "symbol", "price", "bid", "ask", "volume", "timestamp")


def _listed(data: Any, key: str) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return data[key]
    return data if isinstance(data, list) else [data]


def table_for(key: str, columns: Sequence[str]) -> Any:
    """A renderer for a payload wrapped as {key: [...]}, with known columns first."""

    def render(data: Any) -> FittedTable:
        rows = _listed(data, key)
        extra: list[str] = []
        for row in rows:
            if isinstance(row, dict):
                extra.extend(k for k in row if k not in columns and k not in extra)
        return records_table(rows, [*columns, *extra] if key == "strategies" else columns)

    return render


def book_ladder(book: dict[str, Any]) -> Table:
    """The order book as a ladder: asks above (best lowest, nearest the spread), bids below."""
    title = f"{book.get('exchange')} {book.get('symbol')}  seq {book.get('sequence')}"
    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("side")
    table.add_column("price", justify="right")
    table.add_column("quantity", justify="right")
    for level in reversed(book.get("asks") or []):
        table.add_row(cell("ask", "side"), cell(level.get("price")), cell(level.get("quantity")))
    if not book.get("asks") and not book.get("bids"):
        table.caption = "(empty book)"
    else:
        table.add_section()
    for level in book.get("bids") or []:
        table.add_row(cell("bid", "side"), cell(level.get("price")), cell(level.get("quantity")))
    return table


def order_summary(body: dict[str, Any], notional: Any, quote: str | None = None) -> Text:
    """What order place is about to send, in one line."""
    price = body.get("price")
    at = f" @ {price}" if price is not None else " at market"
    text = Text()
    text.append(f"{body['side']} ", style=_SIDE_STYLE.get(body["side"], ""))
    text.append(f"{body['quantity']} {body['symbol']}{at} on {body['exchange']}")
    text.append(f" ({body['type']}")
    if body.get("time_in_force"):
        text.append(f", {body['time_in_force']}")
    if body.get("post_only"):
        text.append(", post-only")
    text.append(")")
    if notional is not None:
        text.append(f", notional ≈ {notional}{' ' + quote if quote else ''}")
    return text


TOTAL_COLUMNS = ("asset", "equity", "realized_pnl", "unrealized_pnl")


def positions_view(data: Any) -> Any:
    """The positions, then the account's totals per quote asset (equity, realized PnL with
    fees, unrealized PnL)."""
    from rich.console import Group

    positions = records_table(_listed(data, "positions"), POSITION_COLUMNS)
    totals = data.get("totals") if isinstance(data, dict) else None
    if not isinstance(totals, list):
        return positions
    return Group(positions, Text(""), records_table(totals, TOTAL_COLUMNS, title="account totals"))


def validation_table(result: dict[str, Any]) -> Any:
    """A dry run's answer: the order as it would end up, the estimates and the fills."""
    from rich.console import Group

    order = result.get("order") or {}
    parts: list[Any] = [detail_table(order)]
    estimate = result.get("estimate")
    if isinstance(estimate, dict):
        numbers = {k: v for k, v in estimate.items() if k != "fills"}
        parts += [Text(""), Text("estimate", style="bold"), detail_table(numbers)]
        fills = estimate.get("fills") or []
        if fills:
            parts += [Text(""), records_table(fills, ("price", "quantity"), "estimated fills")]
    return Group(*parts)
