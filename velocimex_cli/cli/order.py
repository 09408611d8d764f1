"""`vmx order place|cancel|cancel-after|list|show|fills`, and the `vmx buy` / `vmx sell`
shortcuts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from velocimex_cli.cli import completers
from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app
from velocimex_cli.cli.parsing import NumbersAsArguments
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Orders: place, cancel, list, show; fills.")

ORDER_STATUSES = ("open", "filled", "canceled", "rejected", "all")


@dataclass
class PlaceOptions:
    exchange: str | None
    symbol: str | None
    side: str | None
    quantity: str | None
    price: str | None = None
    order_type: str | None = None
    tif: str | None = None
    post_only: bool = False
    client_id: str | None = None
    dry_run: bool = False
    yes: bool = False
    file: str | None = None
    output: str | None = None
    max_wait: str | None = None  # seconds a placement may wait for rate limits
    wait: bool = False  # wait as long as the API asks


@dataclass
class CancelOptions:
    order_ids: list[str]
    all: bool
    exchange: str | None
    symbol: str | None
    output: str | None


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
class CancelAfterOptions:
    seconds: str | None
    output: str | None


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


# ---------------------------------------------------------------- place


def _reference_price(factory: Factory, body: dict[str, Any]) -> Decimal | None:
    """For a market order, the price it will likely trade at (best ask to buy, bid to sell)."""
    try:
        ticker = factory.client().ticker(body["exchange"], body["symbol"])
    except Exception:
        return None
    price = ticker.get("ask" if body["side"] == "buy" else "bid") or ticker.get("price")
    return Decimal(price) if price is not None else None


def _confirm(factory: Factory, opts: PlaceOptions, summary: Any, notional: Decimal | None) -> None:
    """Ask above the threshold on a terminal; never wait for an answer otherwise."""
    io = factory.io
    threshold = factory.settings.confirm_notional
    if io.is_stderr_tty:
        console = io.console(stderr=True)
        console.print("Order to send:", summary)
    if opts.yes or (notional is not None and notional <= threshold):
        return
    why = (
        f"its notional {notional} is above the confirmation threshold {threshold}"
        if notional is not None
        else "its notional cannot be estimated"
    )
    if not io.can_prompt:
        raise CommandError(
            f"not placing the order: {why} and stdin is not a terminal to ask; "
            "pass --yes to place it (or raise `vmx config set confirm_notional N`)",
            code="CONFIRMATION_REQUIRED",
        )
    if not io.prompt_yes_no(f"Place it? ({why})"):
        raise CommandError(
            "not placed: you declined", exit_code=ExitCode.UNEXPECTED, code="DECLINED"
        )


def _bound_the_wait(factory: Factory, opts: PlaceOptions) -> None:
    """How long placing may wait for a rate limit: --wait, --max-wait, else the setting."""
    from velocimex_cli.config.settings import ConfigError, validate_setting

    if opts.wait and opts.max_wait is not None:
        raise CommandError("give --wait (no bound) or --max-wait SECONDS, not both")
    if opts.wait:
        factory.order_wait_unbounded = True
        return
    if opts.max_wait is None:
        factory.order_max_wait = factory.settings.order_max_wait
        return
    try:
        factory.order_max_wait = float(validate_setting("order_max_wait", opts.max_wait))
    except ConfigError as exc:
        from velocimex_cli.wire.errors import InvalidParameter

        message = str(exc).replace("order_max_wait", "--max-wait", 1)
        raise InvalidParameter("max_wait", opts.max_wait, message) from None


def _interrupted_placement(cid: str) -> CommandError:
    return CommandError(
        f"interrupted while placing the order: it may or may not have been placed; check "
        f"with `vmx order show client_order_id:{cid}` before placing it again",
        exit_code=ExitCode.INTERRUPTED,
        code="INTERRUPTED",
    )


def run_place(factory: Factory, opts: PlaceOptions) -> int | None:
    from velocimex_cli.client.orders import build_order, new_client_order_id, notional
    from velocimex_cli.output.formats import emit

    _bound_the_wait(factory, opts)
    if opts.file is not None:
        return run_batch(factory, opts)
    missing = [
        name
        for name, value in (
            ("EXCHANGE", opts.exchange),
            ("SYMBOL", opts.symbol),
            ("SIDE", opts.side),
            ("QUANTITY", opts.quantity),
        )
        if value is None
    ]
    if missing:
        raise CommandError(
            f"missing argument {missing[0]}: vmx order place EXCHANGE SYMBOL SIDE QUANTITY"
        )
    body = build_order(
        opts.exchange,
        opts.symbol,
        opts.side,
        opts.quantity,
        opts.price,
        order_type=opts.order_type,
        time_in_force=opts.tif,
        post_only=opts.post_only,
        client_order_id=opts.client_id,
    )
    body.setdefault("client_order_id", new_client_order_id())
    fmt = factory.output_format(opts.output)
    if opts.dry_run:
        return _dry_run(factory, body, fmt)
    from velocimex_cli.render.tables import order_summary

    estimate = notional(body) if body["type"] == "limit" else None
    if estimate is None and not opts.yes:
        reference = _reference_price(factory, body)
        estimate = notional(body, reference) if reference is not None else None
    quote = body["symbol"].split("/")[1] if "/" in body["symbol"] else None
    _confirm(factory, opts, order_summary(body, estimate, quote), estimate)
    api = factory.client()
    try:
        order = api.place_order(body)
    except KeyboardInterrupt:
        raise _interrupted_placement(body["client_order_id"]) from None

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import detail_table

        return detail_table(payload)

    emit(factory.io, order, fmt, table)
    if api.replayed:
        factory.io.status(
            f"already placed as order {order.get('order_id')}: nothing new was sent "
            f"(client_order_id {order.get('client_order_id')})"
        )
    return _ended(factory, order, fmt)


def _ended(factory: Factory, order: Any, fmt: str) -> int | None:
    """Say how the order ended; exit NOT_FILLED when it ended without the fill asked for."""
    from velocimex_cli.client.orders import shortfall
    from velocimex_cli.wire.errors import ExitCode

    short = shortfall(order)
    if short is not None:
        factory.io.status(short + ".")
        return ExitCode.NOT_FILLED
    if fmt == "table":
        factory.io.status(f"Order {order.get('order_id')} is {order.get('status')}.")
    return None


def _dry_run(factory: Factory, body: dict[str, Any], fmt: str) -> int | None:
    """Ask the engine what placing `body` would do (POST /v1/trading/orders/validate): its
    error, exactly as the placement would answer it, or the outcome and the estimates. The
    exit code is the one the real order would get."""
    from velocimex_cli.output.formats import emit

    result = factory.client().validate_order(body)

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import validation_table

        return validation_table(payload)

    emit(factory.io, result, fmt, table)
    order = result.get("order") or {}
    if result.get("replay"):
        factory.io.status(
            f"Dry run: client_order_id {order.get('client_order_id')} is already order "
            f"{order.get('order_id')}: placing it would send nothing new. Nothing was sent."
        )
        return None
    estimate = result.get("estimate") or {}
    factory.io.status(
        f"Dry run: the engine would accept it ({order.get('status')}); "
        f"notional {estimate.get('notional')}, fee {estimate.get('fee')} "
        f"{estimate.get('fee_asset')}, locks {estimate.get('locked')} "
        f"{estimate.get('locked_asset')}. Nothing was sent."
    )
    return _ended(factory, order, "json")


def _read_lines(source: str, factory: Factory) -> list[str]:
    name = "standard input" if source == "-" else source
    try:
        if source == "-":
            return factory.io.stdin.read().splitlines()
        with open(source, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read the order file {source}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"the order file {name} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); give one JSON order per line; nothing was sent"
        ) from None


def run_batch(factory: Factory, opts: PlaceOptions) -> int | None:
    """One JSON order per line; one result line per order; exit code says if all succeeded."""
    from velocimex_cli.client.order_lines import decode_order_line
    from velocimex_cli.client.orders import new_client_order_id, notional, order_from_mapping
    from velocimex_cli.wire.errors import InvalidParameter

    if any(v is not None for v in (opts.exchange, opts.symbol, opts.side, opts.quantity)):
        raise CommandError("--file takes the orders from the file; drop the positional arguments")
    fmt = factory.output_format(opts.output)
    parsed: list[tuple[int, dict[str, Any] | Exception]] = []
    for number, line in enumerate(_read_lines(opts.file or "-", factory), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            parsed.append((number, order_from_mapping(decode_order_line(line, number))))
        except InvalidParameter as exc:
            parsed.append((number, exc))
    valid = [body for _, body in parsed if isinstance(body, dict)]
    total: Decimal | None = Decimal(0)
    for body in valid:
        body.setdefault("client_order_id", new_client_order_id())
        estimate = notional(body)
        if total is not None:
            total = total + estimate if estimate is not None else None
    if valid and not opts.dry_run and not opts.yes:
        threshold = factory.settings.confirm_notional
        if total is None or total > threshold:
            why = (
                f"the batch's notional {total} is above the threshold {threshold}"
                if total is not None
                else "the batch has market orders whose notional cannot be known"
            )
            if not (factory.io.can_prompt and opts.file != "-"):
                raise CommandError(
                    f"not placing the batch: {why}; pass --yes to place it",
                    code="CONFIRMATION_REQUIRED",
                )
            if not factory.io.prompt_yes_no(f"Place {len(valid)} orders? ({why})"):
                raise CommandError(
                    "not placed: you declined", exit_code=ExitCode.UNEXPECTED, code="DECLINED"
                )
    return _send_batch(factory, opts, parsed, fmt)


def _send_batch(
    factory: Factory,
    opts: PlaceOptions,
    parsed: list[tuple[int, dict[str, Any] | Exception]],
    fmt: str,
) -> int | None:
    """Send the batch's orders one by one, pacing from the rate-limit headers; Ctrl-C stops
    it between (or during) orders and the summary still says what was and was not sent."""
    from velocimex_cli.cli.failures import error_body, exit_code_of
    from velocimex_cli.client.orders import shortfall
    from velocimex_cli.output.batch_results import BatchResults
    from velocimex_cli.wire.errors import ExitCode

    results = BatchResults(factory.io, fmt)
    failures: list[int] = []
    placed = replayed = unfilled = 0
    in_flight: str | None = None
    done = 0
    try:  # Ctrl-C (SIGINT, unless the shell had us ignore it) arrives as KeyboardInterrupt
        for number, item in parsed:
            if isinstance(item, dict):
                try:
                    api = factory.client()
                    if opts.dry_run:  # the engine's verdict on each line, nothing placed
                        api.pace()
                        validation = api.validate_order(item)
                        result: dict[str, Any] = {"line": number, "validation": validation}
                        unfilled += shortfall(validation.get("order")) is not None
                    else:
                        api.pace()  # wait for the window rather than run into a 429
                        in_flight = item["client_order_id"]
                        order = api.place_order(item)
                        in_flight = None
                        result = {"line": number, "order": order}
                        if api.replayed:
                            result["replayed"] = True
                            replayed += 1
                        else:
                            placed += 1
                        unfilled += shortfall(order) is not None
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    in_flight = None
                    if exit_code_of(exc) == ExitCode.UNEXPECTED:
                        raise
                    item = exc
            if isinstance(item, Exception):
                failures.append(exit_code_of(item))
                result = {"line": number, **error_body(item)}
            results.write(result)
            done += 1
    except KeyboardInterrupt:
        not_sent = len(parsed) - done - (1 if in_flight else 0)
        parts = [f"{placed} placed"]
        if replayed:
            parts.append(f"{replayed} already placed (nothing new sent)")
        if failures:
            parts.append(f"{len(failures)} failed")
        if in_flight:
            parts.append(
                f"1 unknown (interrupted in flight: check `vmx order show "
                f"client_order_id:{in_flight}`)"
            )
        parts.append(f"{not_sent} not sent")
        factory.io.status("interrupted: " + ", ".join(parts))
        return ExitCode.INTERRUPTED
    not_filled = ""
    if unfilled:
        not_filled = (
            f", {unfilled} would end without their fill"
            if opts.dry_run
            else f" ({unfilled} ended without their fill)"
        )
    again = f"{replayed} already placed (nothing new sent), " if replayed else ""
    factory.io.status(
        f"{placed} placed, {again}{len(failures)} failed{not_filled}"
        if not opts.dry_run
        else f"dry run: {len(parsed) - len(failures)} accepted by the engine, "
        f"{len(failures)} refused{not_filled}; nothing sent"
    )
    if failures:
        return failures[0]
    return ExitCode.NOT_FILLED if unfilled else None


# ---------------------------------------------------------------- cancel, list, show, fills


def run_cancel(factory: Factory, opts: CancelOptions) -> int | None:
    from velocimex_cli.output.formats import emit
    from velocimex_cli.render.tables import ORDER_COLUMNS, table_for
    from velocimex_cli.wire.errors import ApiError

    if opts.all == bool(opts.order_ids):
        raise CommandError("give ORDER_ID... or --all (with optional --exchange/--symbol)")
    if not opts.all and (opts.exchange or opts.symbol):
        raise CommandError("--exchange and --symbol go with --all")
    api = factory.client()
    fmt = factory.output_format(opts.output)
    if opts.all:
        data = api.cancel_all(opts.exchange, opts.symbol)
        emit(factory.io, data, fmt, table_for("orders", ORDER_COLUMNS))
        count = len(data.get("orders", []))
        factory.io.status(f"Canceled {count} order{'' if count == 1 else 's'}.")
        return None
    orders: list[Any] = []
    first_failure: BaseException | None = None
    for order_id in opts.order_ids:
        try:
            orders.append(api.cancel_order(order_id))
        except ApiError as exc:
            if exc.details.get("status") != "canceled":
                from velocimex_cli.cli.execution import report

                if first_failure is None:
                    first_failure = exc
                report(factory, exc, json_errors=fmt in ("json", "ndjson"))
                continue
            # Canceling is idempotent: an order canceled already is what was asked for.
            orders.append(api.get_order(order_id))
            factory.io.status(f"Order {order_id} was already canceled.")
        except Exception as exc:
            from velocimex_cli.cli.execution import report

            if first_failure is None:
                first_failure = exc
            report(factory, exc, json_errors=fmt in ("json", "ndjson"))
    shown: Any = orders[0] if len(opts.order_ids) == 1 and orders else {"orders": orders}
    if orders:
        emit(factory.io, shown, fmt, table_for("orders", ORDER_COLUMNS))
    if first_failure is not None:  # each failure was reported as it happened
        from velocimex_cli.cli.failures import exit_code_of

        return exit_code_of(first_failure)
    return None


def run_list(factory: Factory, opts: ListOptions) -> None:

    if opts.status not in ORDER_STATUSES:
        raise CommandError(f"--status must be one of {', '.join(ORDER_STATUSES)}")
    data = factory.client().list_orders(
        opts.status, opts.exchange, opts.symbol, opts.limit, opts.since, opts.before
    )

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import ORDER_COLUMNS, table_for

        return table_for("orders", ORDER_COLUMNS)(payload)

    _emit_page(factory, data, "orders", factory.output_format(opts.output), table)


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

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import detail_table

        return detail_table(payload)

    data = factory.client().get_order(opts.order_id)
    emit(factory.io, data, factory.output_format(opts.output), table)


def run_fills(factory: Factory, opts: FillsOptions) -> None:

    data = factory.client().fills(
        opts.exchange, opts.symbol, opts.order_id, opts.limit, opts.since, opts.before
    )

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import FILL_COLUMNS, table_for

        return table_for("fills", FILL_COLUMNS)(payload)

    _emit_page(factory, data, "fills", factory.output_format(opts.output), table)


def run_cancel_after(factory: Factory, opts: CancelAfterOptions) -> None:
    """Arm, refresh or (0) disarm the dead-man switch; without SECONDS show its state."""
    from velocimex_cli.output.formats import emit

    api = factory.client()
    if opts.seconds is None:
        data = api.cancel_after_status()
    else:
        text = opts.seconds.strip()
        if not (text.isascii() and text.isdigit()) or int(text) > 86400:
            raise CommandError(
                f"SECONDS must be a whole number from 0 (disarm) to 86400, not {opts.seconds!r}"
            )
        data = api.cancel_after(int(text))
    fmt = factory.output_format(opts.output)

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import detail_table

        return detail_table(payload)

    emit(factory.io, data, fmt, table)
    if data.get("trigger_time"):
        factory.io.status(
            f"Every open order will be canceled at {data['trigger_time']} unless you run "
            f"`vmx order cancel-after {data.get('timeout')}` again before then "
            "(`vmx order cancel-after 0` disarms)."
        )
    else:
        factory.io.status("The dead-man switch is off.")


# ---------------------------------------------------------------- commands

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
    fmt = output_format(json, output)
    opts = PlaceOptions(
        exchange=exchange,
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        order_type=order_type,
        tif=tif,
        post_only=post_only,
        client_id=client_id,
        dry_run=dry_run,
        yes=yes,
        file=file,
        output=fmt,
        max_wait=max_wait,
        wait=wait,
    )
    execute(ctx, run_place, opts, output=fmt)


def _shortcut(side: str) -> Any:
    def command(
        ctx: typer.Context,
        exchange: Annotated[
            str, typer.Argument(help="Exchange, e.g. BINANCE.", autocompletion=completers.exchanges)
        ],
        symbol: Annotated[
            str, typer.Argument(help="Symbol, e.g. BTC/USDT.", autocompletion=completers.symbols)
        ],
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
        fmt = output_format(json, output)
        opts = PlaceOptions(
            exchange=exchange,
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            order_type=order_type,
            tif=tif,
            post_only=post_only,
            client_id=client_id,
            dry_run=dry_run,
            yes=yes,
            file=None,
            output=fmt,
            max_wait=max_wait,
            wait=wait,
        )
        execute(ctx, run_place, opts, output=fmt)

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
    exchange: Annotated[
        str | None, typer.Option("--exchange", "-e", autocompletion=completers.exchanges)
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", autocompletion=completers.symbols)
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Cancel orders by id, or all open orders with --all."""
    fmt = output_format(json, output)
    opts = CancelOptions(
        order_ids=list(order_ids or []), all=all_, exchange=exchange, symbol=symbol, output=fmt
    )
    execute(ctx, run_cancel, opts, output=fmt)


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
    exchange: Annotated[
        str | None, typer.Option("--exchange", "-e", autocompletion=completers.exchanges)
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", autocompletion=completers.symbols)
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=1000)] = None,
    since: _SINCE = None,
    before: _BEFORE = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your orders, newest first (open ones by default), a page at a time."""
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
    fmt = output_format(json, output)
    execute(ctx, run_show, ShowOptions(order_id=order_id, output=fmt), output=fmt)


@app.command("fills")
def fills_command(
    ctx: typer.Context,
    exchange: Annotated[
        str | None, typer.Option("--exchange", "-e", autocompletion=completers.exchanges)
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", autocompletion=completers.symbols)
    ] = None,
    order_id: Annotated[
        str | None, typer.Option("--order-id", autocompletion=completers.order_ids)
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=1000)] = None,
    since: _SINCE = None,
    before: _BEFORE = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Your fills (trades), newest first, a page at a time."""
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
    fmt = output_format(json, output)
    execute(ctx, run_cancel_after, CancelAfterOptions(seconds=seconds, output=fmt), output=fmt)
