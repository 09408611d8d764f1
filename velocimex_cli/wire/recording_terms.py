"""The instruments' terms a recording's header carries (docs/api.md, "Recordings"): what a
backtest needs to replay a market on the terms the engine traded it on, written by `--record`
and `vmx data import`, read by the backtests.

The header key `"terms"` (an extension of format version 1: a reader that does not know it
ignores it) maps "EXCHANGE:SYMBOL" to the instrument's row of `GET /v1/markets`, cut to its
terms:

    "terms": {"BINANCE:DOGE/USDT": {"base": "DOGE", "quote": "USDT", "tick_size": 0.00001,
                                    "lot_size": 1, "min_quantity": 1, "min_notional": 1}}

`min_quantity` and `min_notional` may be missing or null. `maker_fee` and `taker_fee` (both or
neither, fractions: 0.001 = 10 bps) are the fee rates the instrument's fills paid when they were
its own (a mirrored venue's: its row's `fee_source` is "venue"); a backtest then charges them,
and without them the engine's rates. A header is a file someone hands
vmx, so `read_terms` holds every entry to bounds (a name of at most MAX_NAME characters of
[A-Za-z0-9._-], numbers in plain decimal notation, finite, within 1e+-30, sizes above 0) and
says which entry and field is wrong (`TermsProblem`); it never trusts what it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.numbers import MAX_NUMBER_TEXT, parse_decimal
from velocimex_cli.wire.recording_format import number_in_range, out_of_range

TERMS = "terms"
MAX_TERMS = 1000  # instruments a header may give terms for
MAX_NAME = 32  # characters of an exchange, a base or a quote asset
MAX_SYMBOL = 64
REQUIRED = ("base", "quote", "tick_size", "lot_size")
OPTIONAL = ("min_quantity", "min_notional", "maker_fee", "taker_fee")
FEES = ("maker_fee", "taker_fee")  # may be 0; both or neither
FIELDS = REQUIRED + OPTIONAL
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME - 1}}}")
_SYMBOL = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{MAX_SYMBOL - 1}}}")


class TermsProblem(ValueError):
    """Terms a header may not hold: what is wrong, naming the entry and field."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RecordedTerms:
    """One instrument's terms as a header states them (checked, not yet the engine's)."""

    exchange: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal | None = None
    min_notional: Decimal | None = None
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    def as_json(self) -> dict[str, Any]:
        """The header's entry (numbers as Decimal: written with their exact digits)."""
        entry: dict[str, Any] = {
            "base": self.base,
            "quote": self.quote,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
        }
        if self.min_quantity is not None:
            entry["min_quantity"] = self.min_quantity
        if self.min_notional is not None:
            entry["min_notional"] = self.min_notional
        if self.maker_fee is not None and self.taker_fee is not None:
            entry["maker_fee"] = self.maker_fee
            entry["taker_fee"] = self.taker_fee
        return entry


def read_terms(header: Mapping[str, Any]) -> dict[str, RecordedTerms]:
    """The terms of a header by "EXCHANGE:SYMBOL" (upper case; {} when it has none);
    TermsProblem when they are not what the format allows."""
    listed = header.get(TERMS)
    if listed is None:
        return {}
    if not isinstance(listed, dict):
        raise TermsProblem(
            f'"{TERMS}" must be an object of "EXCHANGE:SYMBOL": {{tick_size, lot_size, ...}}'
        )
    if len(listed) > MAX_TERMS:
        raise TermsProblem(f'"{TERMS}" lists {len(listed)} instruments; at most {MAX_TERMS}')
    found: dict[str, RecordedTerms] = {}
    for key, entry in listed.items():
        terms = _entry(key, entry)
        if terms.key in found:
            raise TermsProblem(f'"{TERMS}" names {terms.key} twice (in different spellings)')
        found[terms.key] = terms
    return found


def _entry(key: object, entry: object) -> RecordedTerms:
    where = f"{TERMS}[{_shown(key)}]"
    exchange, _, symbol = key.partition(":") if isinstance(key, str) else ("", "", "")
    if _NAME.fullmatch(exchange) is None or _SYMBOL.fullmatch(symbol) is None:
        raise TermsProblem(
            f"{where}: not an instrument EXCHANGE:SYMBOL (an exchange of at most {MAX_NAME} and "
            f"a symbol of at most {MAX_SYMBOL} letters, digits and ._/-)"
        )
    if not isinstance(entry, dict):
        raise TermsProblem(f"{where} must be an object {{base, quote, tick_size, lot_size, ...}}")
    missing = [name for name in REQUIRED if entry.get(name) is None]
    if missing:
        raise TermsProblem(f"{where} lacks {', '.join(missing)}")
    names = {}
    for name in ("base", "quote"):
        value = entry[name]
        if not isinstance(value, str) or _NAME.fullmatch(value) is None:
            raise TermsProblem(
                f"{where}.{name} {_shown(value)} is not an asset name (at most {MAX_NAME} "
                "letters, digits and ._-)"
            )
        names[name] = value.upper()
    numbers: dict[str, Decimal | None] = {}
    for name in FIELDS[2:]:
        value = entry.get(name)
        if value is None:
            numbers[name] = None
            continue
        number = _number(f"{where}.{name}", value)
        if number < 0 or (number == 0 and name not in ("min_quantity", *FEES)):
            raise TermsProblem(f"{where}.{name} {value} must be above 0")
        numbers[name] = number
    if (numbers["maker_fee"] is None) != (numbers["taker_fee"] is None):
        raise TermsProblem(f"{where} gives one of maker_fee and taker_fee: give both or neither")
    tick, lot = numbers["tick_size"], numbers["lot_size"]
    if tick is None or lot is None:  # required: `missing` said so above
        raise TermsProblem(f"{where} lacks tick_size or lot_size")
    return RecordedTerms(
        exchange=exchange.upper(),
        symbol=symbol.upper().replace("-", "/"),
        base=names["base"],
        quote=names["quote"],
        tick_size=tick,
        lot_size=lot,
        min_quantity=numbers["min_quantity"],
        min_notional=numbers["min_notional"],
        maker_fee=numbers["maker_fee"],
        taker_fee=numbers["taker_fee"],
    )


def _number(field: str, value: object) -> Decimal:
    """A term's number: a JSON number or a string in plain decimal notation, in range."""
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise TermsProblem(f"{field} {_shown(value)} is not a decimal number")
    if len(text) > MAX_NUMBER_TEXT:
        raise TermsProblem(out_of_range(field, text))
    number = parse_decimal(value)
    if number is None:
        raise TermsProblem(f"{field} {_shown(value)} is not a decimal number")
    if not number_in_range(number):
        raise TermsProblem(out_of_range(field, text))
    return number


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
    return repr(text) if isinstance(value, str) else text


def terms_of_markets(
    markets: Iterable[Mapping[str, Any]], wanted: Iterable[str] | None = None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The header's `terms` from rows of `GET /v1/markets` (those of `wanted`, "EXCHANGE:SYMBOL"
    in any case, or every row when None), and the rows left out because the engine listed
    them with terms a recording may not hold (what is wrong with each)."""
    keys = None if wanted is None else {_canonical(key) for key in wanted}
    terms: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for row in markets:
        key = f"{row.get('exchange')}:{row.get('symbol')}"
        if keys is not None and _canonical(key) not in keys:
            continue
        if len(terms) >= MAX_TERMS:
            problems.append(f"{key}: more than {MAX_TERMS} instruments")
            continue
        own_fees = row.get("fee_source") == "venue"  # else the engine's: not the market's terms
        entry = {
            name: row.get(name)
            for name in FIELDS
            if row.get(name) is not None and (own_fees or name not in FEES)
        }
        try:
            checked = _entry(key, entry)
        except TermsProblem as exc:
            problems.append(exc.problem)
            continue
        terms[checked.key] = checked.as_json()
    return terms, problems


def _canonical(key: str) -> str:
    exchange, _, symbol = key.partition(":")
    return f"{exchange.strip().upper()}:{symbol.strip().upper().replace('-', '/')}"


__all__ = [
    "MAX_TERMS",
    "TERMS",
    "RecordedTerms",
    "TermsProblem",
    "read_terms",
    "terms_of_markets",
]
