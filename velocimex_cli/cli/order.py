"""`vmx order place|cancel|cancel-after|list|show|fills|watch`, and the `vmx buy` / `vmx sell`
shortcuts: the commands and their options. Each parses its flags into an options object and
hands it to its run function, imported when the command runs: order_placing (one order),
order_batch (--file), order_cancelling (cancel, cancel-after), order_history (list, show,
fills), order_watch (watch).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import (
    CountOption,
    DurationOption,
    ExchangeArgument,
    ExchangeFilter,
    JsonFlag,
    OutputOption,
    RecordOption,
    SymbolArgument,
    SymbolFilter,
    output_format,
    sub_app,
)
from velocimex_cli.cli.parsing import NumbersAsArguments

app = sub_app("Orders: place, cancel, list, show; fills.")

_PRICE = Annotated[str | None, typer.Option("--price", help="Limit price; implies --type limit.")]
_TYPE = Annotated[
    str | None, typer.Option("--type", "-t", help="limit or market (default: limit with --price).")
]
_TIF = Annotated[str | None, typer.Option("--tif", help="Time in force: gtc, ioc or fok.")]
_POST_ONLY = Annotated[bool, typer.Option("--post-only", help="Only rest on the book, never take.")]
_CLIENT_ID = Annotated[
    str | None, typer.Option("--client-id", help="Your id for the order (idempotency key).")
]
_DRY_RUN = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Ask the engine what would happen (every check, estimates); place nothing.",
    ),
]
_YES = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
_MAX_WAIT = Annotated[
    str | None,
    typer.Option(
        "--max-wait",
        metavar="SECONDS",
        help="Wait at most this long for a rate limit before giving up (exit 4); "
        "default: the order_max_wait setting (5).",
    ),
]
_WAIT = Annotated[
    bool, typer.Option("--wait", help="Wait for a rate limit as long as the API asks.")
]


@app.command("place", cls=NumbersAsArguments)
def place_command(
    ctx: typer.Context,
    exchange: Annotated[
        str | None,
        typer.Argument(help="Exchange, e.g. BINANCE.", autocompletion=completers.exchanges),
    ] = None,
    symbol: Annotated[
        str | None, typer.Argument(help="Symbol, e.g. BTC/USDT.", autocompletion=completers.symbols)
    ] = None,
    side: Annotated[str | None, typer.Argument(help="buy or sell.")] = None,
    quantity: Annotated[str | None, typer.Argument(help="Quantity, e.g. 0.010.")] = None,
    price: _PRICE = None,
    order_type: _TYPE = None,
    tif: _TIF = None,
    post_only: _POST_ONLY = False,
    client_id: _CLIENT_ID = None,
    dry_run: _DRY_RUN = False,
    yes: _YES = False,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", "-f", help="Place a batch: one JSON order per line ('-' for stdin)."
        ),
    ] = None,
    max_wait: _MAX_WAIT = None,
    wait: _WAIT = False,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Place an order (or a batch with --file)."""
    _place(ctx)


def _place(ctx: typer.Context, **fixed: Any) -> None:
    """`vmx order place` and its `vmx buy|sell` shortcuts: the flags typer parsed (ctx.params,
    named as PlaceOptions' fields) and what a shortcut fixes (its side, no --file) make one
    PlaceOptions; the commands' own parameters declare the flags."""
    from velocimex_cli.cli.order_placing import PlaceOptions, run_place

    flags = {**ctx.params, **fixed}
    fmt = output_format(flags.pop("json"), flags.pop("output"))
    execute(ctx, run_place, PlaceOptions(**flags, output=fmt), output=fmt)


def _shortcut(side: str) -> Any:
    def command(
        ctx: typer.Context,
        exchange: ExchangeArgument,
        symbol: SymbolArgument,
        quantity: Annotated[str, typer.Argument(help="Quantity, e.g. 0.010.")],
        price: _PRICE = None,
        order_type: _TYPE = None,
        tif: _TIF = None,
        post_only: _POST_ONLY = False,
        client_id: _CLIENT_ID = None,
        dry_run: _DRY_RUN = False,
        yes: _YES = False,
        max_wait: _MAX_WAIT = None,
        wait: _WAIT = False,
        json: JsonFlag = False,
        output: OutputOption = None,
    ) -> None:
        _place(ctx, side=side, file=None)

    command.__doc__ = f"Shortcut for `vmx order place EXCHANGE SYMBOL {side} QUANTITY`."
    return command


buy_app = sub_app("Buy: shortcut for `vmx order place ... buy`.", no_args_is_help=False)
sell_app = sub_app("Sell: shortcut for `vmx order place ... sell`.", no_args_is_help=False)
buy_app.command("buy", cls=NumbersAsArguments)(_shortcut("buy"))
sell_app.command("sell", cls=NumbersAsArguments)(_shortcut("sell"))


@app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    order_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Order ids (or client_order_id:ID).", autocompletion=completers.open_order_ids
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Cancel every open order (filtered below).")
    ] = False,
    exchange: ExchangeFilter = None,
    symbol: SymbolFilter = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Cancel orders by id, or all open orders with --all."""
    from velocimex_cli.cli.order_cancelling import CancelOptions, run_cancel

    fmt = output_format(json, output)
    opts = CancelOptions(
        order_ids=list(order_ids or []), all=all_, exchange=exchange, symbol=symbol, output=fmt
    )
    execute(ctx, run_cancel, opts, output=fmt)


_LIMIT = Annotated[
    int | None, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")
]
_SINCE = Annotated[
    str | None,
    typer.Option("--since", help="From this ISO-8601 UTC time (inclusive), or after this id."),
]
_BEFORE = Annotated[
    str | None,
    typer.Option("--before", help="Before this ISO-8601 UTC time, or before this id (next page)."),
]


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option("--status", help="open, filled, canceled, rejected, all.")
    ] = "open",
    exchange: ExchangeFilter = None,
    symbol: SymbolFilter = None,
    limit: _LIMIT = None,
    since: _SINCE = None,
    before: _BEFORE = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your orders, newest first (open ones by default), a page at a time."""
    from velocimex_cli.cli.order_history import ListOptions, run_list

    fmt = output_format(json, output)
    opts = ListOptions(
        status=status.lower(),
        exchange=exchange,
        symbol=symbol,
        limit=limit,
        output=fmt,
        since=since,
        before=before,
    )
    execute(ctx, run_list, opts, output=fmt)


@app.command("show")
def show_command(
    ctx: typer.Context,
    order_id: Annotated[
        str,
        typer.Argument(
            help="Order id, or client_order_id:ID.", autocompletion=completers.order_ids
        ),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """One order in full."""
    from velocimex_cli.cli.order_history import ShowOptions, run_show

    fmt = output_format(json, output)
    execute(ctx, run_show, ShowOptions(order_id=order_id, output=fmt), output=fmt)


@app.command("fills")
def fills_command(
    ctx: typer.Context,
    exchange: ExchangeFilter = None,
    symbol: SymbolFilter = None,
    order_id: Annotated[
        str | None,
        typer.Option(
            "--order-id", help="Only this order's fills.", autocompletion=completers.order_ids
        ),
    ] = None,
    limit: _LIMIT = None,
    since: _SINCE = None,
    before: _BEFORE = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your fills (trades), newest first, a page at a time."""
    from velocimex_cli.cli.order_history import FillsOptions, run_fills

    fmt = output_format(json, output)
    opts = FillsOptions(
        exchange=exchange,
        symbol=symbol,
        order_id=order_id,
        limit=limit,
        output=fmt,
        since=since,
        before=before,
    )
    execute(ctx, run_fills, opts, output=fmt)


class _TakesNegativeSeconds(TyperCommand):
    """`cancel-after -5` is SECONDS out of range, not an unknown option `-5`: a bare negative
    whole number is passed as the argument (after `--`); real unknown options still fail."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" not in args:
            for index, arg in enumerate(args):
                if arg[:1] == "-" and arg[1:].isdigit():
                    args = [*args[:index], "--", *args[index:]]
                    break
        return super().parse_args(ctx, args)


@app.command("cancel-after", cls=_TakesNegativeSeconds)
def cancel_after_command(
    ctx: typer.Context,
    seconds: Annotated[
        str | None,
        typer.Argument(
            help="Cancel every open order unless called again within SECONDS; 0 disarms."
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Dead-man switch: cancel all your open orders if not refreshed in time."""
    from velocimex_cli.cli.order_cancelling import CancelAfterOptions, run_cancel_after

    fmt = output_format(json, output)
    execute(ctx, run_cancel_after, CancelAfterOptions(seconds=seconds, output=fmt), output=fmt)


@app.command("watch")
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
    # Imported here: the stream's code is no part of the other order commands' start-up.
    from velocimex_cli.cli.order_watch import run_order_watch
    from velocimex_cli.cli.stream import OrdersOptions, errors_as, stream_output

    fmt = stream_output(json, output)
    opts = OrdersOptions(
        count=count, duration=duration, record=record, ndjson=json or output is not None
    )
    execute(ctx, run_order_watch, opts, output=errors_as(fmt, json, output))
