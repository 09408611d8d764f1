"""The recording format's identity, shared by its writer (client) and its readers (replay,
backtests): docs/api.md, "Recordings".

Line 1 is a header object with "format": FORMAT and "version": VERSION; every other line is
{"t": receive time in ns since the header's started_at, "msg": the message as received}.

A recording is a file someone hands vmx, so its readers hold it to bounds (docs/backtests.md,
"Hostile files"): no line longer than MAX_LINE_BYTES (read through `read_line`, which never
reads more than that, so a file with no newline cannot fill the memory), UTF-8 text checked a
line at a time (a bad byte names its own line and column), "t" at most MAX_T_NS, and numbers
within MAX_NUMBER_TEXT characters and 10^+-MAX_NUMBER_EXPONENT.
"""

from __future__ import annotations

from decimal import Decimal
from typing import IO, Any

import simplejson

from velocimex_cli.wire.numbers import MAX_NUMBER_TEXT

FORMAT = "vmx-recording"
VERSION = 1

MAX_LINE_BYTES = 1 << 20  # 1 MiB before the newline: a book snapshot of 10,000 levels is ~0.4 MiB
# The latest "t": about ten years after the header's started_at (and well within 64 bits).
MAX_T_NS = 10 * 366 * 86_400 * 1_000_000_000
MAX_NUMBER_EXPONENT = 30  # a number is 0 or between 1e-30 and 1e30 in magnitude


class LineProblem(ValueError):
    """A line a recording may not hold: what is wrong and where in the line (column, 1-based,
    in bytes; 0 when it is the whole line)."""

    def __init__(self, problem: str, column: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.column = column


def read_line(handle: IO[bytes]) -> bytes:
    """The next line of a file opened in binary mode (b"" at its end), never more than one byte
    beyond MAX_LINE_BYTES: `line_text` says whether that is too long."""
    return handle.readline(MAX_LINE_BYTES + 1)


def too_long(raw: bytes) -> bool:
    return len(raw) > MAX_LINE_BYTES and raw[-1:] != b"\n"


def long_line() -> LineProblem:
    return LineProblem(
        f"the line is longer than {MAX_LINE_BYTES} bytes (1 MiB), the most a line may hold",
        MAX_LINE_BYTES + 1,
    )


def line_text(raw: bytes) -> str:
    """A line read by `read_line` as text: LineProblem when it is too long or not UTF-8."""
    if too_long(raw):
        raise long_line()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(raw, exc) from None


def not_utf8(raw: bytes, exc: UnicodeDecodeError) -> LineProblem:
    return LineProblem(
        f"byte 0x{raw[exc.start]:02x} is not UTF-8 text (the file must be UTF-8)", exc.start + 1
    )


def number_in_range(value: Decimal) -> bool:
    """Finite, and 0 or between 1e-30 and 1e30 in magnitude."""
    if not value.is_finite():
        return False
    return not value or -MAX_NUMBER_EXPONENT <= value.adjusted() < MAX_NUMBER_EXPONENT


def out_of_range(field: str, text: str) -> str:
    shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
    return (
        f"{field} {shown} is out of range: a recorded number is finite, at most "
        f"{MAX_NUMBER_TEXT} characters, and 0 or between 1e-{MAX_NUMBER_EXPONENT} and "
        f"1e{MAX_NUMBER_EXPONENT}"
    )


class _BadNumber:
    """Where the decoder met a number out of range (the line is then refused)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _CheckedNumbers:
    """A JSON decoder whose numbers are exact (Decimal, int) and within the format's bounds:
    a number out of range decodes to a _BadNumber and is noted in `bad`."""

    def __init__(self) -> None:
        self.bad: list[str] = []
        self.decode = simplejson.JSONDecoder(
            parse_float=self._float, parse_int=self._int, parse_constant=self._bad
        ).decode

    def _bad(self, text: str) -> _BadNumber:
        self.bad.append(text)
        return _BadNumber(text)

    def _float(self, text: str) -> Decimal | _BadNumber:
        if len(text) <= MAX_NUMBER_TEXT:
            value = Decimal(text)
            if number_in_range(value):
                return value
        return self._bad(text)

    def _int(self, text: str) -> int | _BadNumber:
        if len(text) - text.startswith("-") <= MAX_NUMBER_EXPONENT:
            return int(text)
        return self._bad(text)


def _where_bad(value: Any, path: str) -> tuple[str, str] | None:
    """(the field, the number's text) of the first _BadNumber in a decoded value."""
    if isinstance(value, _BadNumber):
        return path, value.text
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _where_bad(item, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found is not None:
            return found
    return None


class CheckedJson:
    """JSON text to a value with exact numbers (Decimal, int), refusing what a recording may
    not hold: LineProblem for invalid JSON (with its column) and for a number out of range
    (naming its field, e.g. msg.bids[0].price)."""

    def __init__(self) -> None:
        self._numbers = _CheckedNumbers()

    def loads(self, text: str) -> Any:
        numbers = self._numbers
        try:
            value = numbers.decode(text)
        except simplejson.JSONDecodeError as exc:
            numbers.bad.clear()
            column = len(text[: exc.pos].encode()) + 1
            raise LineProblem(f"not valid JSON ({exc.msg})", column) from None
        except (ValueError, RecursionError) as exc:
            numbers.bad.clear()
            raise LineProblem(f"not valid JSON ({exc})") from None
        if numbers.bad:
            numbers.bad.clear()
            try:
                field, number = _where_bad(value, "") or ("", "a number")
            except RecursionError:
                field, number = "", "a number"
            raise LineProblem(out_of_range(field.lstrip(".") or "a number", number))
        return value


__all__ = [
    "FORMAT",
    "MAX_LINE_BYTES",
    "MAX_NUMBER_EXPONENT",
    "MAX_NUMBER_TEXT",
    "MAX_T_NS",
    "VERSION",
    "CheckedJson",
    "LineProblem",
    "line_text",
    "long_line",
    "not_utf8",
    "number_in_range",
    "out_of_range",
    "read_line",
    "too_long",
]
