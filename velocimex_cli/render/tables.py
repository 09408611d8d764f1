"""Rich renderables for API data. No I/O: give it data, get something a Console can print.

Numbers are printed exactly as the API sent them (str of the Decimal), never reformatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text

from velocimex_cli.render.styles import SIDE_STYLE, STATUS_STYLE
from velocimex_cli.wire.numbers import plain


def cell(value: Any, column: str = "") -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return Text(", ".join(value) if value else "-")  # permissions, ip_allow: words
    if isinstance(value, dict | list):
        from velocimex_cli.wire import jsonfmt

        return Text(jsonfmt.dumps(value))
    text = plain(value) if isinstance(value, Decimal) else str(value)  # never 1E-8
    if column == "side":
        return Text(text, style=SIDE_STYLE.get(text, ""))
    if column == "status":
        return Text(text, style=STATUS_STYLE.get(text, ""))
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
    "min_notional",
    "maker_fee",
    "taker_fee",
    "sequence",
    "equity",
    "lag_ms",
    "reconnects",
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


@dataclass(frozen=True)
class Fit:
    """How one table gives way on a narrow screen: `drop` goes first, in that order, then the
    `wrap` columns wrap (down to their minimum width) instead of widening the table, then the
    general least-needed columns go; `keep` never goes."""

    drop: tuple[str, ...] = ()
    wrap: dict[str, int] = field(default_factory=dict)  # column -> minimum width
    keep: frozenset[str] = frozenset()


PLAIN_FIT = Fit()
SEPARATOR = 3  # " │ " between columns


class FittedTable:
    """A records table that fits the console: columns go in the table's order (`Fit`), long
    text wraps where the table allows it, ids and numbers are never cut."""

    def __init__(
        self, rows: Sequence[Any], columns: Sequence[str], title: str | None, fit: Fit = PLAIN_FIT
    ) -> None:
        self.rows = [row for row in rows if isinstance(row, dict)]
        self.columns = list(columns)
        self.title = title
        self.fit = fit

    def _cells(self) -> list[list[Text]]:
        return [[cell(row.get(c), c) for c in self.columns] for row in self.rows]

    def _widths(self, columns: list[str], cells: list[list[Text]]) -> list[int]:
        index = {c: i for i, c in enumerate(self.columns)}
        return [max([len(c), *(len(r[index[c]]) for r in cells)]) for c in columns]

    def _width(self, columns: list[str], cells: list[list[Text]], wrapping: bool) -> int:
        widths = self._widths(columns, cells)
        if wrapping:
            wrap = self.fit.wrap
            widths = [
                min(w, max(wrap[c], len(c))) if c in wrap else w
                for c, w in zip(columns, widths, strict=True)
            ]
        return sum(widths) + SEPARATOR * (len(columns) - 1)

    def _choose(self, cells: list[list[Text]], max_width: int | None) -> tuple[list[str], bool]:
        """The columns shown and whether the wrap columns wrap."""
        columns = list(self.columns)
        if max_width is None:
            return columns, False
        fit = self.fit

        def drop(victims: Sequence[str], wrapping: bool) -> bool:
            for victim in victims:
                if self._width(columns, cells, wrapping) <= max_width:
                    return True
                if victim in columns and victim not in fit.keep and len(columns) > 2:
                    columns.remove(victim)
            return self._width(columns, cells, wrapping) <= max_width

        if drop(fit.drop, False):
            return columns, False
        wrapping = bool(fit.wrap)
        if drop(_LEAST_NEEDED, wrapping):
            return columns, wrapping
        if drop(tuple(fit.wrap), wrapping):  # the wrapped text goes last
            return columns, wrapping
        # Still too wide (long values): the rightmost columns go rather than be cropped at the
        # screen's edge, which Rich does without a mark, a header and a number cut alike.
        drop(tuple(reversed(columns)), wrapping)
        return columns, wrapping

    def build(self, max_width: int | None = None) -> Table:
        cells = self._cells()
        columns, wrapping = self._choose(cells, max_width)
        index = {c: i for i, c in enumerate(self.columns)}
        table = Table(title=self.title, show_edge=False, header_style="bold", pad_edge=False)
        for column, width in zip(columns, self._widths(columns, cells), strict=True):
            if wrapping and column in self.fit.wrap:
                least = max(self.fit.wrap[column], len(column))
                table.add_column(column, min_width=min(width, least), overflow="fold")
                continue
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
    rows: Sequence[Any],
    columns: Sequence[str] | None = None,
    title: str | None = None,
    fit: Fit = PLAIN_FIT,
) -> FittedTable:
    if columns is None:
        seen: list[str] = []
        for row in rows:
            if isinstance(row, dict):
                seen.extend(k for k in row if k not in seen)
        columns = seen
    return FittedTable(rows, columns, title, fit)


def detail_table(record: dict[str, Any]) -> Table:
    """One record as field/value lines (an order, a deployment)."""
    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, cell(value, key))
    return table


MARKET_STATUS_COLUMNS = ("exchange", "status", "last_update")
# When some exchange is mirrored: why it is halted, and its feed (`feed` flattened).
MARKET_FEED_COLUMNS = (
    "exchange", "status", "reason", "last_update", "source", "lag_ms", "reconnects",
)  # fmt: skip
# Why an exchange is halted stays (wrapped on a narrow screen); the feed's details go first.
MARKET_FEED_FIT = Fit(
    drop=("reconnects", "source", "last_update"),
    wrap={"reason": 16},
    keep=frozenset({"exchange", "status", "reason"}),
)


def market_status_table(data: Any) -> FittedTable:
    """`vmx markets status`: each exchange's session; with the feed's columns (source, lag,
    reconnects, a halt's reason) only when some exchange is mirrored."""
    rows = [row for row in _listed(data, "markets") if isinstance(row, dict)]
    if not any(isinstance(row.get("feed"), dict) for row in rows):
        return records_table(rows, MARKET_STATUS_COLUMNS)
    flat = []
    for row in rows:
        feed = row.get("feed")
        if not isinstance(feed, dict):
            feed = {}
        flat.append({**row, **{key: feed.get(key) for key in ("source", "lag_ms", "reconnects")}})
    return records_table(flat, MARKET_FEED_COLUMNS, fit=MARKET_FEED_FIT)


MARKET_COLUMNS = (
    "exchange",
    "symbol",
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_quantity",
    "min_notional",
    "status",
    "maker_fee",
    "taker_fee",
    "fee_source",
)
# `markets list`: an instrument's tick and its fees stay (fee_source says whose rates they are:
# the venue's own or the engine's); base and quote (the symbol says them), the minimum
# notional and the session's status (`markets status`) go first. At 80 columns: exchange,
# symbol, tick_size, lot_size, maker_fee, taker_fee, fee_source.
MARKET_FIT = Fit(
    drop=("base", "quote", "min_notional", "status", "min_quantity", "fee_source", "lot_size"),
    keep=frozenset({"exchange", "symbol", "tick_size", "maker_fee", "taker_fee"}),
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
# `order fills`: which fill of which order, at what price and fee; the fill's own id goes
# after the general least-needed columns (at 80 columns the fee stays instead).
FILL_FIT = Fit(
    drop=("timestamp", "liquidity", "fee_asset", "trade_id"),
    keep=frozenset({"order_id", "symbol", "side", "price", "quantity", "fee"}),
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
# A position's average price is what it is about: the PnL columns give way first.
POSITION_FIT = Fit(
    drop=("pnl_asset", "realized_pnl", "market_price"),
    keep=frozenset({"exchange", "symbol", "quantity", "average_price", "unrealized_pnl"}),
)
TICKER_COLUMNS = ("exchange", "symbol", "price", "bid", "ask", "volume", "timestamp")
# `strategy list`: ids, names and kinds stay; the parameter names go first (`strategy show`
# has them in full), then the description wraps.
STRATEGY_FIT = Fit(
    drop=("params",),
    wrap={"description": 20},
    keep=frozenset({"strategy_id", "name", "kind"}),
)
# `strategy show`: each parameter's name, default and bounds stay and its description wraps;
# choices and whether it is required (its default says so: "-") give way first, its type
# (which its default shows) when the description would not fit.
PARAM_FIT = Fit(
    drop=("choices", "required"),
    wrap={"description": 16},
    keep=frozenset({"name", "default", "min", "max", "description"}),
)
# `strategy status`: where each runs, how it is doing and why it stopped stay; the money columns
# (`strategy status ID` has them) give way first, then the error wraps.
DEPLOYMENT_FIT = Fit(
    drop=("unrealized_pnl", "realized_pnl", "fees", "open_orders", "strategy_id"),
    wrap={"last_error": 16},
    keep=frozenset(
        {"deployment_id", "exchange", "symbol", "state", "orders", "fills", "last_error"}
    ),
)


def _listed(data: Any, key: str) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return data[key]
    return data if isinstance(data, list) else [data]


def table_for(key: str, columns: Sequence[str], fit: Fit = PLAIN_FIT) -> Any:
    """A renderer for a payload wrapped as {key: [...]}, with known columns first."""

    def render(data: Any) -> FittedTable:
        rows = _listed(data, key)
        extra: list[str] = []
        for row in rows:
            if isinstance(row, dict):
                extra.extend(k for k in row if k not in columns and k not in extra)
        shown = [*columns, *extra] if key == "strategies" else columns
        return records_table(rows, shown, fit=fit)

    return render


BOOK_COLUMNS = ("side", "price", "quantity")


def book_ladder(book: dict[str, Any]) -> Table:
    """The order book as a ladder: asks above (best lowest, nearest the spread), bids below."""
    title = f"{book.get('exchange')} {book.get('symbol')}  seq {book.get('sequence')}"
    table = Table(  # at least as wide as its title, which stays on one line
        title=title, show_edge=False, header_style="bold", pad_edge=False, min_width=len(title)
    )
    side, price, quantity = BOOK_COLUMNS
    table.add_column(side)
    table.add_column(price, justify="right")
    table.add_column(quantity, justify="right")
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
    text.append(f"{body['side']} ", style=SIDE_STYLE.get(body["side"], ""))
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

    positions = records_table(_listed(data, "positions"), POSITION_COLUMNS, fit=POSITION_FIT)
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
