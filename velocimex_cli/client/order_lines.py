"""One line of an order batch file (`vmx order place --file`), decoded strictly.

A line is one JSON object. Python's decoder would keep the last of two equal keys (so
`{"exchange": "BINANCE", ..., "exchange": "NYSE"}` silently trades on NYSE) and overflow the
stack on deeply nested input; both are refused here as the line's INVALID_PARAMETER error.
"""

from __future__ import annotations

from typing import Any

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter

MAX_LINE = 64 * 1024  # an order is a few hundred bytes


def decode_order_line(line: str, number: int) -> Any:
    """The JSON value on line `number`, or InvalidParameter saying what is wrong with it."""
    if len(line) > MAX_LINE:
        raise InvalidParameter(
            "line", number, f"line {number} is {len(line)} characters long; an order line is "
            f"one JSON object of at most {MAX_LINE}"
        )  # fmt: skip
    try:
        return jsonfmt.loads_unique(line)
    except jsonfmt.DuplicateKey as exc:
        key = exc.key[:100]
        raise InvalidParameter(
            key, "", f"field {key!r} appears twice on the line; give it once"
        ) from None
    except RecursionError:
        raise InvalidParameter("line", number, "not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise InvalidParameter("line", number, f"not valid JSON: {exc}") from None
