"""Paging bounds of the order and fill history: `since` / `before` as a time or an id."""

from __future__ import annotations

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import parse_iso, to_micros

MAX_ID_DIGITS = 19  # ids are 64-bit integers
MAX_TIME_LENGTH = 40


def cursor(name: str, raw: str | None, kind: str) -> tuple[int | None, int | None]:
    """(time in micros, None) for an ISO-8601 time, (None, id) for an id, (None, None) for none."""
    if raw is None:
        return None, None
    text = str(raw).strip()
    try:
        if text.isascii() and text.isdigit():
            if len(text) > MAX_ID_DIGITS:
                raise ValueError(text)
            return None, int(text)
        if len(text) > MAX_TIME_LENGTH or "-" not in text:
            raise ValueError(text)
        return to_micros(parse_iso(text)), None
    except ValueError:
        raise InvalidParameter(
            name,
            raw,
            f"{name} must be an ISO-8601 UTC time like 2026-11-24T15:00:00Z or a {kind} id",
        ) from None
