"""The order commands' payloads as tables for people, built only when a table is printed (Rich
is imported then, never for JSON, NDJSON or CSV)."""

from __future__ import annotations

from typing import Any


def order_detail(payload: Any) -> Any:
    """One record (an order, the dead-man switch's state) field by field."""
    from velocimex_cli.render.tables import detail_table

    return detail_table(payload)


def orders_table(payload: Any) -> Any:
    from velocimex_cli.render.tables import ORDER_COLUMNS, table_for

    return table_for("orders", ORDER_COLUMNS)(payload)


def fills_table(payload: Any) -> Any:
    from velocimex_cli.render.tables import FILL_COLUMNS, table_for

    return table_for("fills", FILL_COLUMNS)(payload)
