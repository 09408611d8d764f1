"""The results of `order place --file`, one per line of the file, written as each one is known.

json/ndjson: one JSON object per line (`{"line", "order"|"request"|"error"}`); csv: a header
(at once, so even a batch that sends nothing is a valid CSV) and one row per line; table: one
readable line each. Streaming matters: an interrupted batch has printed everything it did.
"""

from __future__ import annotations

from typing import Any

from velocimex_cli.output.columns import BATCH_FIELDS
from velocimex_cli.output.formats import csv_row
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt


class BatchResults:
    def __init__(self, io: IOStreams, fmt: str) -> None:
        self.io = io
        self.fmt = fmt
        if fmt == "csv":
            io.write(csv_row(list(BATCH_FIELDS)))

    def write(self, result: dict[str, Any]) -> None:
        if self.fmt in ("json", "ndjson"):
            self.io.write(jsonfmt.dumps(result) + "\n")
        elif self.fmt == "csv":
            self.io.write(csv_row(_csv_values(result)))
        else:
            self.io.write(_readable(result))


def _csv_values(result: dict[str, Any]) -> list[Any]:
    record: dict[str, Any] = {"line": result["line"]}
    if "order" in result:
        record["result"] = "placed"
        record.update(result["order"])
    elif "request" in result:
        record["result"] = "valid"
        record.update(result["request"])
    else:
        error = result["error"]
        record.update(result="failed", error_code=error["code"], error_message=error["message"])
    return [record.get(name) for name in BATCH_FIELDS]


def _readable(result: dict[str, Any]) -> str:
    line = result["line"]
    if "order" in result:
        order = result["order"]
        return (
            f"line {line}: ok order_id={order.get('order_id')} status={order.get('status')} "
            f"client_order_id={order.get('client_order_id')}\n"
        )
    if "request" in result:
        return f"line {line}: valid {jsonfmt.dumps(result['request'])}\n"
    error = result["error"]
    return f"line {line}: error {error['code']}: {error['message']}\n"


__all__ = ["BatchResults"]
