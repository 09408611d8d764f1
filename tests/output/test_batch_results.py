"""The batch result writer: every kind of line in every format, streamed as it comes."""

from __future__ import annotations

import csv
import io

from velocimex_cli.output.batch_results import BatchResults
from velocimex_cli.output.columns import BATCH_FIELDS
from velocimex_cli.output.iostreams import IOStreams
from velocimex_cli.wire import jsonfmt

ORDER = {"order_id": "7", "client_order_id": "a,b", "status": "open", "price": "10.50"}
RESULTS = [
    {"line": 1, "order": ORDER},
    {"line": 2, "order": ORDER, "replayed": True},
    {"line": 3, "validation": {"order": {**ORDER, "order_id": None}}},
    {"line": 4, "request": {"client_order_id": "c", "price": "1"}},
    {"line": 5, "error": {"code": "INVALID_PARAMETER", "message": 'bad "q"', "details": {}}},
]


def written(fmt: str) -> str:
    out = io.StringIO()
    results = BatchResults(IOStreams(out=out, err=io.StringIO()), fmt)
    for result in RESULTS:
        results.write(result)
    return out.getvalue()


def test_csv_rows_say_what_happened_to_each_line_and_quote_what_needs_it() -> None:
    rows = list(csv.DictReader(io.StringIO(written("csv"))))
    assert [r["result"] for r in rows] == ["placed", "replayed", "accepted", "valid", "failed"]
    assert rows[0]["client_order_id"] == "a,b" and rows[0]["price"] == "10.50"
    assert rows[4]["error_code"] == "INVALID_PARAMETER" and rows[4]["error_message"] == 'bad "q"'
    assert list(rows[0]) == list(BATCH_FIELDS)


def test_ndjson_is_one_object_per_line_as_given() -> None:
    lines = [jsonfmt.loads(line) for line in written("ndjson").splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5] and lines[1]["replayed"] is True


def test_readable_lines_name_the_line_and_the_outcome() -> None:
    text = written("table").splitlines()
    assert text[0].startswith("line 1: ok order_id=7") and "already placed" in text[1]
    assert text[2].startswith("line 3: accepted") and text[4].startswith("line 5: error")


def test_a_page_with_metadata_is_still_its_records_in_csv_and_ndjson() -> None:
    from velocimex_cli.output.columns import ORDER_FIELDS
    from velocimex_cli.output.formats import emit

    page = {"orders": [], "total": 0, "next_before": None}
    out = io.StringIO()
    emit(IOStreams(out=out), page, "csv")
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [list(ORDER_FIELDS)]
    out = io.StringIO()
    emit(IOStreams(out=out), {**page, "orders": [ORDER, ORDER]}, "ndjson")
    assert [jsonfmt.loads(line)["order_id"] for line in out.getvalue().splitlines()] == ["7", "7"]
    one = io.StringIO()
    emit(IOStreams(out=one), {"a": [1], "b": [2]}, "ndjson")  # not a known list: one record
    assert jsonfmt.loads(one.getvalue()) == {"a": [1], "b": [2]}
