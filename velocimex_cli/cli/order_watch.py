"""`vmx order watch`: your orders and fills as they happen, a live table on a terminal, NDJSON
otherwise (the `order` noun's one command that lives apart: it sits above both `vmx stream`,
whose NDJSON it prints, and orders_screen, which draws the live order board)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    CountOption,
    DurationOption,
    JsonFlag,
    OutputOption,
    RecordOption,
    sub_app,
)

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.cli.stream import OrdersOptions

order_watch_app = sub_app("Your orders and fills as they happen.", no_args_is_help=False)


def run_order_watch(factory: Factory, opts: OrdersOptions) -> int:
    """The live table on a terminal (the ladder's order board), NDJSON otherwise."""
    if factory.io.is_stdout_tty and not (opts.ndjson or opts.count or opts.record):
        from velocimex_cli.cli.orders_screen import watch_orders_on_terminal

        return watch_orders_on_terminal(factory)
    from velocimex_cli.cli.stream import run_orders

    return run_orders(factory, opts)


@order_watch_app.command("watch")
def order_watch_command(
    ctx: typer.Context,
    count: CountOption = None,
    duration: DurationOption = None,
    record: RecordOption = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your orders and fills as they happen: a live table on a terminal, NDJSON otherwise
    (and with --json)."""
    # Imported here: `vmx order ...` loads this module for its `watch` command, and the
    # stream's code is no part of the other order commands' start-up.
    from velocimex_cli.cli.stream import OrdersOptions, errors_as, stream_output

    fmt = stream_output(json, output)
    opts = OrdersOptions(
        count=count, duration=duration, record=record, ndjson=json or output is not None
    )
    execute(ctx, run_order_watch, opts, output=errors_as(fmt, json, output))
