"""Exact decimal numbers at the boundary: parsing user/wire input and formatting for output.

Money is never a float. Inside the engine prices and quantities are integer ticks and lots;
at the edges they are `decimal.Decimal`, and on the wire JSON numbers written with exactly
the digits the instrument's tick or lot calls for.

Text is read strictly: ASCII digits only, no `_` separators. Python's `Decimal("1_000")` and
`int("١٢")` (Arabic-Indic digits) both succeed, so a typo or a look-alike digit would silently
become a different order; here they are not numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER_TYPES = (int, str, Decimal)

# Plain decimal notation with an optional exponent: 150.50, -1, .5, 5., 1e3. ASCII only.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
MAX_NUMBER_TEXT = 100  # characters: more is never a price or a quantity (and int() has a limit)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, str or Decimal (floats are converted via repr); else None.

    Booleans are not numbers here, even though Python says they are ints. Strings must be
    plain ASCII decimal notation (surrounding whitespace is ignored): no `_`, no non-ASCII
    digits, no `NaN`/`Infinity`, at most MAX_NUMBER_TEXT characters.
    """
    if type(value) is Decimal:  # what the wire's JSON decoder gives: the common case
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, _NUMBER_TYPES):
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT or _DECIMAL_TEXT.fullmatch(text) is None:
            return None
        value = text
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number


def parse_int(text: str, max_digits: int = 18) -> int | None:
    """A whole number from ASCII digits (optional sign, surrounding whitespace ignored), or None.

    Unlike int(): no `_`, no non-ASCII digits, and never more than `max_digits` digits (int()
    raises past 4300 digits, and no count or id here needs more than 18).
    """
    stripped = text.strip()
    if _INTEGER_TEXT.fullmatch(stripped) is None or len(stripped.lstrip("+-")) > max_digits:
        return None
    return int(stripped)


def plain(number: Decimal) -> str:
    """A Decimal written out in plain notation, never with an exponent ("1E+5" -> "100000")."""
    text = format(number, "f")
    return text
