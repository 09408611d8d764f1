"""Paging of the order and fill history: `since` / `before` as a time or an id, and a page
walked newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.timefmt import parse_iso, to_micros

MAX_ID_DIGITS = 19  # ids are 64-bit integers
MAX_TIME_LENGTH = 40

Entry = TypeVar("Entry")


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


class Page:
    """A page of a history walked newest first (an account's orders or fills): where `since`
    ends the walk, what `before` and `since` leave out, every match counted, the first `limit`
    kept as the wire has them."""

    def __init__(self, kind: str, limit: int, since: str | None, before: str | None) -> None:
        self.limit = limit
        self.since_time, self.since_id = cursor("since", since, kind)
        self.before_time, self.before_id = cursor("before", before, kind)
        self.kept: list[dict[str, Any]] = []
        self.total = 0

    def ended(self, entry_id: int) -> bool:
        """At or past `since`'s id: ids only fall from here on, so the walk ends."""
        return self.since_id is not None and entry_id <= self.since_id

    def outside(self, entry_id: int, stamp: int) -> bool:
        """Left out by `before` (an id or a time) or by `since` (a time)."""
        return (
            (self.before_id is not None and entry_id >= self.before_id)
            or (self.before_time is not None and stamp >= self.before_time)
            or (self.since_time is not None and stamp < self.since_time)
        )

    def add(self, entry: Entry, wire: Callable[[Entry], dict[str, Any]]) -> None:
        """Count a match; keep it as `wire` puts it while the page has room."""
        self.total += 1
        if len(self.kept) < self.limit:
            self.kept.append(wire(entry))

    def answer(self, name: str, id_field: str) -> dict[str, Any]:
        """{name: the kept entries, "total", "next_before": the `before` of the next page, None
        on the last}."""
        kept = self.kept
        more = self.total > len(kept)
        next_before = kept[-1][id_field] if more else None
        return {name: kept, "total": self.total, "next_before": next_before}
