"""The order commands' payloads as tables for people, built only when a table is printed (Rich
is imported then, never for JSON, NDJSON or CSV); one order is detail_tables.record_detail."""

from __future__ import annotations

from typing import Any


def orders_table(payload: Any) -> Any:
    from velocimex_cli.render.tables import ORDER_COLUMNS, table_for

    return table_for("orders", ORDER_COLUMNS)(payload)


def fills_table(payload: Any) -> Any:
    from velocimex_cli.render.tables import FILL_COLUMNS, FILL_FIT, table_for

    return table_for("fills", FILL_COLUMNS, FILL_FIT)(payload)
