"""`vmx order place` (and `vmx buy|sell`): one order, confirmed above the notional threshold,
bounded in how long it waits for a rate limit, or asked of the engine as a dry run; a batch
from a file is order_batch's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


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
        from velocimex_cli.cli.order_batch import BatchOptions, run_batch

        if any(v is not None for v in (opts.exchange, opts.symbol, opts.side, opts.quantity)):
            raise CommandError(
                "--file takes the orders from the file; drop the positional arguments"
            )
        batch = BatchOptions(file=opts.file, dry_run=opts.dry_run, yes=opts.yes, output=opts.output)
        return run_batch(factory, batch)
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

    emit(factory.io, order, fmt, record_detail)
    if api.replayed:
        factory.io.status(
            f"already placed as order {order.get('order_id')}: nothing new was sent "
            f"(client_order_id {order.get('client_order_id')})"
        )
    return _ended(factory, order, fmt)


def _ended(factory: Factory, order: Any, fmt: str) -> int | None:
    """Say how the order ended; exit NOT_FILLED when it ended without the fill asked for."""
    from velocimex_cli.client.orders import shortfall

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
