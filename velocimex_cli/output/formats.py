"""Data formats for stdout: table (Rich, for people), json, ndjson and csv (for pipelines).

`json` prints the API's `data` payload as one JSON document, numbers exactly as the API sent
them. `ndjson` and `csv` print the rows of a list payload (`{"orders": [...]}` -> the orders);
a CSV always starts with its header, the record's known fields first (see columns.py), even
when there are no rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.numbers import plain

if TYPE_CHECKING:
    from rich.console import RenderableType

FORMATS = ("table", "json", "ndjson", "csv")


def rows_of(data: Any) -> list[Any]:
    """The records in a payload: its list of records (see columns.list_key), a list itself, or
    [the one record]."""
    from velocimex_cli.output.columns import list_key

    if isinstance(data, list):
        return data
    key = list_key(data)
    return data[key] if key is not None else [data]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return jsonfmt.dumps(jsonfmt.plain_decimals(value))
    if isinstance(value, Decimal):
        return plain(value)  # 0.00000001, never 1E-8
    return str(value)


def csv_row(values: list[Any]) -> str:
    """One CSV line (quoted as needed), for writers that stream rows as they come."""
    import csv  # here: a REST command printing JSON or a table never loads it

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


def to_csv(rows: list[Any], known: tuple[str, ...] = ()) -> str:
    columns: list[str] = list(known)
    for row in rows:
        if isinstance(row, dict):
            columns.extend(k for k in row if k not in columns)
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        if isinstance(row, dict):
            writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def emit(
    io_: IOStreams,
    data: Any,
    fmt: str,
    table: Callable[[Any], RenderableType] | None = None,
    *,
    columns: tuple[str, ...] | None = None,
) -> None:
    """Write a payload to stdout in the chosen format.

    `columns`: the records' fields for the CSV header (default: known from the list's key).
    """
    if fmt in ("json", "ndjson"):
        data = jsonfmt.plain_decimals(data)  # numbers as people write them: never 1E-8
    if fmt == "json":
        io_.write(jsonfmt.dumps(data, indent=2) + "\n")
    elif fmt == "ndjson":
        io_.write("".join(jsonfmt.dumps(row) + "\n" for row in rows_of(data)))
    elif fmt == "csv":
        from velocimex_cli.output.columns import columns_for

        io_.write(to_csv(rows_of(data), columns_for(data) if columns is None else columns))
    else:
        if table is None:
            from velocimex_cli.render.tables import records_table

            io_.console().print(records_table(rows_of(data)))
        else:
            io_.console().print(table(data))
