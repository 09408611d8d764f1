"""Exact decimal numbers at the boundary: parsing user/wire input and formatting for output.

Money is never a float. Inside the engine prices and quantities are integer ticks and lots;
at the edges they are `decimal.Decimal`, and on the wire JSON numbers written with exactly
the digits the instrument's tick or lot calls for.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_NUMBER_TYPES = (int, str, Decimal)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, str or Decimal (floats are converted via repr); else None.

    Booleans are not numbers here, even though Python says they are ints.
    """
    if type(value) is Decimal:  # what the wire's JSON decoder gives: the common case
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, _NUMBER_TYPES):
        return None
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number


def plain(number: Decimal) -> str:
    """A Decimal written out in plain notation, never with an exponent ("1E+5" -> "100000")."""
    text = format(number, "f")
    return text


def trim(number: Decimal) -> Decimal:
    """Drop trailing fractional zeros without going to exponent notation."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()
