"""UTC timestamps on the wire: ISO-8601 with microseconds and a Z suffix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def iso(moment: datetime) -> str:
    """2024-04-15T14:30:00.123456Z"""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in vmx is timezone-aware UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_last_second: list[tuple[int, str]] = [(-1, "")]
_last_stamp: list[tuple[int, str]] = [(-1, "")]


def iso_from_micros(micros: int) -> str:
    """2024-04-15T14:30:00.123456Z from microseconds since the epoch.

    The last answer is kept (one command stamps all its events with the same time), and the
    date-and-time part is formatted once per second (strftime is most of the cost) and reused:
    a server stamps many messages within the same second.
    """
    last, text = _last_stamp[0]
    if last == micros:
        return text
    seconds, fraction = divmod(micros, 1_000_000)
    second, prefix = _last_second[0]
    if second != seconds:
        prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second[0] = (seconds, prefix)
    text = f"{prefix}{fraction:06d}Z"
    _last_stamp[0] = (micros, text)
    return text


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=fraction)


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
