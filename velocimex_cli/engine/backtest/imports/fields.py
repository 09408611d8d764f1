"""What every imported row is held to, and the error that says where a file is wrong.

Prices and amounts stay text from the file to the recording (never a float): a number in
plain decimal notation within the recording format's bounds is copied as it is; any other
spelling a publisher may use (an exponent, `1e-7`; leading zeros) is read as a Decimal and
written in plain notation, and anything else is refused with its file, line and column.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal
from velocimex_cli.wire.recording_format import number_in_range

# A number a recording may hold as it is: JSON's plain notation, non-negative, at most 30
# digits before the point and 30 after (so within 1e30 and down to 1e-30).
# Atomic and possessive (nothing is given back): the alternatives start differently and what
# follows a number in a row (a comma, the line's end) is neither a digit nor a point, so no
# shorter match could ever succeed where the longest failed; giving nothing back only spares
# the matcher its bookkeeping (the Binance rows' pattern runs 40% faster).
PLAIN_NUMBER = r"(?>0|[1-9][0-9]{0,29}+)(?:\.[0-9]{1,30}+)?+"
# The same, above 0 (a trade's price and size): a zero fails the pattern, and the row is then
# read field by field, which says so.
POSITIVE_NUMBER = (
    r"(?>[1-9][0-9]{0,29}+(?:\.[0-9]{1,30}+)?+|0\.(?=[0-9]{1,30}+(?![0-9]))0*+[1-9][0-9]*+)"
)
# A trade id or a publisher's name, safe to write inside a JSON string as it is.
PLAIN_TEXT = r"[^,\"\\\x00-\x1f\x7f]{1,100}"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
_PLAIN_TEXT = re.compile(PLAIN_TEXT)


class SecondStamps(dict[int | str, str]):
    """A second since the epoch (an int, or its digits) -> its ISO-8601 text up to the
    fraction ("2026-09-01T00:00:00."): formatted once per second (strftime is most of the
    cost), and forgotten in bulk now and then."""

    def __missing__(self, second: int | str) -> str:
        if len(self) > 4096:
            self.clear()
        moment = datetime.fromtimestamp(int(second), UTC)
        text = self[second] = moment.strftime("%Y-%m-%dT%H:%M:%S.")
        return text


class ImportProblem(InvalidParameter):
    """A data file that cannot be imported: the file, the line and the column (a CSV field,
    counted from 1, with its name) when they are known, what is wrong and what was expected.
    INVALID_PARAMETER: exit 2, like every other bad input file."""

    def __init__(self, file: str, line: int, problem: str, column: int = 0, name: str = "") -> None:
        where = file
        if line:
            where += f", line {line}"
        if column:
            where += f", column {column}" + (f" ({name})" if name else "")
        super().__init__("file", file, f"{where}: {problem}")
        self.file = file
        self.line = line
        self.column = column


def number_text(text: str) -> str | None:
    """The recording's text for a non-negative number (the file's own digits when they are
    plain notation), or None when `text` is not one within the format's bounds."""
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    value = parse_decimal(text)
    if value is None or value < 0 or not number_in_range(value):
        return None
    plain = format(value, "f")
    return plain if _PLAIN_NUMBER.fullmatch(plain) else None


def is_zero(text: str) -> bool:
    """Whether a number's plain text is zero (0, 0.0, 0.00000000)."""
    return text[0] == "0" and not text.strip("0.")


def plain_text(text: str) -> bool:
    return _PLAIN_TEXT.fullmatch(text) is not None


def positive(text: str) -> bool:
    return Decimal(text) > 0


def cells(text: str) -> list[str]:
    """A CSV line's fields (the publishers here never quote a field)."""
    return text.split(",")


def bad_field(
    file: str, line: int, column: int, name: str, value: str, expected: str
) -> ImportProblem:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return ImportProblem(file, line, f"{shown!r} is not {expected}", column, name)
