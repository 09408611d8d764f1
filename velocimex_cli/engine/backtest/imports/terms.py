"""The instrument terms an imported recording's header carries (`--tick-size`, `--lot-size`,
and the venue's `--min-notional`, which a backtest then enforces as the live engine does).

Public data files state prices and sizes, never the market's tick and lot. A backtest needs
them: for an instrument the engine's catalogue lists, it uses the catalogue's; for one it does
not (or to replay on the exchange's real terms instead), the user gives them and the header
carries them (wire/recording_terms.py). An import of an instrument the catalogue lacks without
them is refused, saying which flags to give, before anything is published.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.backtest.imports.fields import ImportProblem
from velocimex_cli.engine.backtest.imports.messages import catalogue, known_on
from velocimex_cli.engine.backtest.terms import instrument_on_terms
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal
from velocimex_cli.wire.recording_format import number_in_range
from velocimex_cli.wire.recording_terms import TERMS, read_terms

FLAGS = "--tick-size and --lot-size"


@dataclass(frozen=True, slots=True)
class GivenTerms:
    """The terms given on the command line, for the one instrument of an import."""

    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal | None = None


def given_terms(
    tick_size: str | None, lot_size: str | None, min_notional: str | None = None
) -> GivenTerms | None:
    """`--tick-size` and `--lot-size` checked (both or neither; decimals above 0), and
    `--min-notional` (with them; a decimal above 0)."""
    if tick_size is None and lot_size is None:
        if min_notional is not None:
            raise InvalidParameter(
                "min_notional",
                min_notional,
                f"give --min-notional with {FLAGS} (the market's terms, as the exchange "
                "states them, go into the recording together)",
            )
        return None
    if tick_size is None or lot_size is None:
        missing = "--tick-size" if tick_size is None else "--lot-size"
        raise InvalidParameter(
            missing.lstrip("-").replace("-", "_"),
            None,
            f"give {FLAGS} together (the market's price and quantity increments); {missing} "
            "is missing",
        )
    return GivenTerms(
        _above_zero("--tick-size", tick_size),
        _above_zero("--lot-size", lot_size),
        None if min_notional is None else _above_zero("--min-notional", min_notional),
    )


def _above_zero(flag: str, text: str) -> Decimal:
    """A flag's decimal above 0, else INVALID_PARAMETER naming the flag."""
    number = parse_decimal(text)
    if number is None or number <= 0 or not number_in_range(number):
        raise InvalidParameter(
            flag.lstrip("-").replace("-", "_"),
            text,
            f"{flag} {text!r} is not a decimal number above 0 (e.g. 0.01)",
        )
    return number


def header_terms(
    instruments: Iterable[str], given: GivenTerms | None, files: str
) -> dict[str, dict[str, Any]] | None:
    """The header's `terms` for an import of `instruments` ("EXCHANGE:SYMBOL"): the given ones
    for its one instrument, None when none are given (the catalogue lists every instrument);
    ImportProblem naming `files` when the terms are needed and not given, or given for more
    than one instrument, or not terms the engine can trade."""
    keys = list(instruments)
    if given is None:
        for key in keys:
            exchange, _, symbol = key.partition(":")
            try:
                catalogue().find(exchange, symbol)
            except InvalidParameter:
                raise ImportProblem(
                    files,
                    0,
                    f"{key} is not an instrument vmx knows (on {exchange} it knows "
                    f"{known_on(exchange)}), so the tick and lot size to replay it on are not "
                    f"known: give them as the exchange states them, {FLAGS} (Binance: "
                    "exchangeInfo's PRICE_FILTER tickSize and LOT_SIZE stepSize)",
                ) from None
        return None
    if len(keys) > 1:
        raise ImportProblem(
            files,
            0,
            f"{FLAGS} give one instrument's terms, and the files hold {len(keys)} "
            f"({', '.join(keys)}): import one instrument at a time (--symbol picks it)",
        )
    terms: dict[str, dict[str, Any]] = {}
    for key in keys:
        exchange, _, symbol = key.partition(":")
        base, slash, quote = symbol.partition("/")
        if not slash or not base or not quote:
            raise ImportProblem(
                files,
                0,
                f"{key}: the symbol does not say its base and quote assets: give "
                "--symbol BASE/QUOTE",
            )
        entry = {"base": base, "quote": quote, "tick_size": given.tick_size,
                 "lot_size": given.lot_size}  # fmt: skip
        if given.min_notional is not None:
            entry["min_notional"] = given.min_notional
        try:  # what a backtest will hold the header to
            for recorded in read_terms({TERMS: {key: entry}}).values():
                instrument_on_terms(None, recorded)
                terms[recorded.key] = recorded.as_json()
        except ValueError as exc:  # TermsProblem, or terms the engine cannot trade
            raise ImportProblem(
                files, 0, f"{FLAGS} {given.tick_size} and {given.lot_size}: {exc}"
            ) from None
    return terms


__all__ = ["GivenTerms", "given_terms", "header_terms"]
