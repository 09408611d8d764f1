"""`vmx order place --file FILE` (or `-` for stdin): a batch of orders, one JSON order per line,
confirmed as a whole, sent one by one at the pace the rate limits allow; one result line per
order, and a summary that says what was and was not sent, also after Ctrl-C."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


@dataclass
class BatchOptions:
    file: str  # the order file, or "-" for stdin
    dry_run: bool = False
    yes: bool = False
    output: str | None = None


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


def run_batch(factory: Factory, opts: BatchOptions) -> int | None:
    """One JSON order per line; one result line per order; exit code says if all succeeded."""
    from velocimex_cli.client.order_lines import decode_order_line
    from velocimex_cli.client.orders import new_client_order_id, notional, order_from_mapping
    from velocimex_cli.wire.errors import InvalidParameter

    fmt = factory.output_format(opts.output)
    parsed: list[tuple[int, dict[str, Any] | Exception]] = []
    for number, line in enumerate(_read_lines(opts.file, factory), start=1):
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
    opts: BatchOptions,
    parsed: list[tuple[int, dict[str, Any] | Exception]],
    fmt: str,
) -> int | None:
    """Send the batch's orders one by one, pacing from the rate-limit headers; Ctrl-C stops
    it between (or during) orders and the summary still says what was and was not sent."""
    from velocimex_cli.cli.failures import error_body, exit_code_of
    from velocimex_cli.client.orders import shortfall
    from velocimex_cli.output.batch_results import BatchResults

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
