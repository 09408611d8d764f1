"""Trading sessions: equity venues 09:30-16:00 America/New_York, Monday to Friday; crypto 24/7.

Holidays are not modelled (documented). The clock is always passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from velocimex_cli.engine.core.instruments import Venue, VenueKind

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)


def is_open(venue: Venue, now: datetime, *, always_open: bool = False) -> bool:
    if always_open or venue.kind is VenueKind.CRYPTO:
        return True
    local = now.astimezone(NEW_YORK)
    return local.weekday() < 5 and SESSION_OPEN <= local.time() < SESSION_CLOSE


def next_open(venue: Venue, now: datetime, *, always_open: bool = False) -> datetime:
    """The next moment the venue opens (now, if it is open)."""
    if is_open(venue, now, always_open=always_open):
        return now
    local = now.astimezone(NEW_YORK)
    day = local.date()
    if local.time() >= SESSION_OPEN:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, SESSION_OPEN, tzinfo=NEW_YORK).astimezone(UTC)
