"""The results of `order place --file`, one per line of the file, written as each one is known.

json/ndjson: one JSON object per line (`{"line", "order"|"validation"|"request"|"error"}`, with
`"replayed": true` for an order that was already placed); csv: a header (at once, so even a batch
that sends nothing is a valid CSV) and one row per line, its `result` one of placed, replayed,
accepted (a dry run the engine accepts), valid, failed; table: one readable line each.
Streaming matters: an interrupted batch has printed everything it did.
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
        record["result"] = "replayed" if result.get("replayed") else "placed"
        record.update(result["order"])
    elif "validation" in result:
        record["result"] = "accepted"
        record.update(result["validation"].get("order") or {})
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
        again = " (already placed: nothing new sent)" if result.get("replayed") else ""
        return (
            f"line {line}: ok order_id={order.get('order_id')} status={order.get('status')} "
            f"client_order_id={order.get('client_order_id')}{again}\n"
        )
    if "validation" in result:
        order = result["validation"].get("order") or {}
        return (
            f"line {line}: accepted status={order.get('status')} "
            f"client_order_id={order.get('client_order_id')}\n"
        )
    if "request" in result:
        return f"line {line}: valid {jsonfmt.dumps(result['request'])}\n"
    error = result["error"]
    return f"line {line}: error {error['code']}: {error['message']}\n"


__all__ = ["BatchResults"]
