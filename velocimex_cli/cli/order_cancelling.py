"""`vmx order cancel` (by id, or --all) and `vmx order cancel-after` (the dead-man switch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.detail_tables import record_detail
from velocimex_cli.cli.order_tables import orders_table

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


@dataclass
class CancelOptions:
    order_ids: list[str]
    all: bool
    exchange: str | None
    symbol: str | None
    output: str | None


@dataclass
class CancelAfterOptions:
    seconds: str | None
    output: str | None


def run_cancel(factory: Factory, opts: CancelOptions) -> int | None:
    from velocimex_cli.output.formats import emit
    from velocimex_cli.wire.errors import ApiError

    if opts.all == bool(opts.order_ids):
        raise CommandError("give ORDER_ID... or --all (with optional --exchange/--symbol)")
    if not opts.all and (opts.exchange or opts.symbol):
        raise CommandError("--exchange and --symbol go with --all")
    api = factory.client()
    fmt = factory.output_format(opts.output)
    if opts.all:
        data = api.cancel_all(opts.exchange, opts.symbol)
        emit(factory.io, data, fmt, orders_table)
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
        emit(factory.io, shown, fmt, orders_table)
    if first_failure is not None:  # each failure was reported as it happened
        from velocimex_cli.cli.failures import exit_code_of

        return exit_code_of(first_failure)
    return None


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
    emit(factory.io, data, fmt, record_detail)
    if data.get("trigger_time"):
        factory.io.status(
            f"Every open order will be canceled at {data['trigger_time']} unless you run "
            f"`vmx order cancel-after {data.get('timeout')}` again before then "
            "(`vmx order cancel-after 0` disarms)."
        )
    else:
        factory.io.status("The dead-man switch is off.")
