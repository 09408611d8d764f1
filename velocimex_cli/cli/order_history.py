"""`vmx order list|show|fills`: your orders and fills, a page at a time, and one order in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail
from velocimex_cli.cli.order_tables import fills_table, orders_table

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

ORDER_STATUSES = ("open", "filled", "canceled", "rejected", "all")


@dataclass
class ListOptions:
    status: str
    exchange: str | None
    symbol: str | None
    limit: int | None
    output: str | None
    since: str | None = None
    before: str | None = None


@dataclass
class ShowOptions:
    order_id: str
    output: str | None


@dataclass
class FillsOptions:
    exchange: str | None
    symbol: str | None
    order_id: str | None
    limit: int | None
    output: str | None
    since: str | None = None
    before: str | None = None


def run_list(factory: Factory, opts: ListOptions) -> None:

    if opts.status not in ORDER_STATUSES:
        raise CommandError(f"--status must be one of {', '.join(ORDER_STATUSES)}")
    data = factory.client().list_orders(
        opts.status, opts.exchange, opts.symbol, opts.limit, opts.since, opts.before
    )

    _emit_page(factory, data, "orders", factory.output_format(opts.output), orders_table)


def _emit_page(factory: Factory, data: Any, key: str, fmt: str, table: Any) -> None:
    """A page of history: the rows (the whole payload with --json), and on stderr how many
    of how many, with the option that shows the rest."""
    from velocimex_cli.output.formats import emit

    rows = data.get(key, []) if isinstance(data, dict) else data
    emit(factory.io, data if fmt == "json" else {key: rows}, fmt, table)
    total = data.get("total") if isinstance(data, dict) else None
    if isinstance(total, int) and total > len(rows):
        cursor = data.get("next_before")
        factory.io.status(
            f"{len(rows)} of {total} shown; use --limit"
            + (f" (up to 1000), or --before {cursor} for the next page" if cursor else "")
        )


def run_show(factory: Factory, opts: ShowOptions) -> None:
    from velocimex_cli.output.formats import emit

    data = factory.client().get_order(opts.order_id)
    emit(factory.io, data, factory.output_format(opts.output), record_detail)


def run_fills(factory: Factory, opts: FillsOptions) -> None:

    data = factory.client().fills(
        opts.exchange, opts.symbol, opts.order_id, opts.limit, opts.since, opts.before
    )

    _emit_page(factory, data, "fills", factory.output_format(opts.output), fills_table)
