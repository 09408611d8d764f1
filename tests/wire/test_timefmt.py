"""Wire timestamps: ISO-8601 UTC with microseconds, exact both ways."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from velocimex_cli.wire.timefmt import from_micros, iso, iso_from_micros, parse_iso, to_micros

MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(st.lists(MOMENTS, min_size=1, max_size=20))
def test_iso_from_micros_matches_iso_for_any_sequence_of_moments(moments: list[datetime]) -> None:
    # A sequence, so that the per-second cache meets repeats, neighbours and jumps back.
    for moment in moments + [m.replace(microsecond=0) for m in moments]:
        micros = to_micros(moment)
        text = iso_from_micros(micros)
        assert text == iso(moment)
        assert parse_iso(text) == moment == from_micros(micros)


def test_reference_shape() -> None:
    stamp = datetime(2024, 4, 15, 14, 30, 0, 123456, tzinfo=UTC)
    assert iso_from_micros(to_micros(stamp)) == "2024-04-15T14:30:00.123456Z"
    assert iso_from_micros(to_micros(stamp) + 1) == "2024-04-15T14:30:00.123457Z"
    assert iso_from_micros(to_micros(stamp) + 876544) == "2024-04-15T14:30:01.000000Z"
