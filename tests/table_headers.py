"""Whether a printed table's header shows every column name whole.

Rich does not mark a header it cuts: a table wider than the terminal is cropped at its edge
(`min_n` for `min_notional`), a column squeezed to nothing leaves an empty header cell, and a
header wrapped over two lines shows a part of the name on each (`stat`, `us`). None of these
has an ellipsis, so a width test compares each header cell with the names of the columns the
command declares instead."""

from __future__ import annotations

from collections.abc import Sequence

from velocimex_cli.cli.account import LIMIT_COLUMNS
from velocimex_cli.cli.strategy_catalogue import PARAM_COLUMNS, STRATEGY_COLUMNS
from velocimex_cli.cli.strategy_deployments import DEPLOYMENT_COLUMNS
from velocimex_cli.output.columns import STRATEGY_FIELDS
from velocimex_cli.render.tables import (
    BALANCE_COLUMNS,
    BOOK_COLUMNS,
    FILL_COLUMNS,
    MARKET_COLUMNS,
    MARKET_FEED_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    TICKER_COLUMNS,
    TOTAL_COLUMNS,
)

HEADER_SEPARATOR = "┃"  # between header cells (Rich's default box); rows use "│"

# The columns each table command declares, by its command words.
DECLARED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("markets", "list"): MARKET_COLUMNS,
    ("markets", "status"): MARKET_FEED_COLUMNS,
    ("ticker",): TICKER_COLUMNS,
    ("book",): BOOK_COLUMNS,
    ("order", "list"): ORDER_COLUMNS,
    ("order", "fills"): FILL_COLUMNS,
    ("account", "balance"): BALANCE_COLUMNS,
    ("account", "positions"): (*POSITION_COLUMNS, *TOTAL_COLUMNS),
    ("account", "limits"): LIMIT_COLUMNS,
    # a strategy's own fields beyond the API's follow the declared ones
    ("strategy", "list"): (*STRATEGY_COLUMNS, *STRATEGY_FIELDS),
    ("strategy", "show"): PARAM_COLUMNS,
    ("strategy", "status"): DEPLOYMENT_COLUMNS,
}


def cut_headers(text: str, columns: Sequence[str]) -> list[str]:
    """Each header cell of the tables in `text` that is not one of `columns` whole."""
    return [
        cell
        for line in text.splitlines()
        if HEADER_SEPARATOR in line
        for cell in (part.strip() for part in line.split(HEADER_SEPARATOR))
        if cell not in columns
    ]


def cut_headers_of(args: Sequence[str], text: str) -> list[str]:
    """`cut_headers` against the columns the command `args` declares (an error when a command
    prints a header and the table above does not name it)."""
    for words, columns in DECLARED.items():
        if tuple(args[: len(words)]) == words:
            return cut_headers(text, columns)
    if HEADER_SEPARATOR in text:
        raise AssertionError(f"`vmx {' '.join(args)}` prints a table: add its columns to DECLARED")
    return []
