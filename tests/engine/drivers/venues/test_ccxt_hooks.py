"""The hooks the ccxt source puts into ccxt to make its work cheaper give ccxt's own results."""

from __future__ import annotations

from typing import Any

import pytest
from ccxt.base.exchange import Exchange
from hypothesis import given, settings
from hypothesis import strategies as st

from velocimex_cli.engine.drivers.venues.ccxt_venues import exchange_class, iso8601_by_second


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 8_640_000_000_000_000), min_size=1, max_size=20))
def test_iso8601_by_second_is_ccxts_text(timestamps: list[int]) -> None:
    by_second = iso8601_by_second(Exchange.iso8601)
    # the same second twice, then the next: the second's text is made once and reused
    for timestamp in sorted(timestamps) + [t + 1 for t in timestamps] + timestamps:
        assert by_second(timestamp) == Exchange.iso8601(timestamp)


@pytest.mark.parametrize(
    "value",
    [None, -1, 8_640_000_000_000_001, 1.5e12, float("nan"), "1795000000123", "12a", True, ""],
)
def test_iso8601_by_second_hands_what_is_not_a_plain_time_to_ccxt(value: Any) -> None:
    by_second = iso8601_by_second(Exchange.iso8601)
    assert by_second(value) == Exchange.iso8601(value)


def test_the_mirrored_exchange_uses_it() -> None:
    binance = exchange_class("binance")({})
    assert binance.iso8601(1_795_000_000_123) == "2026-11-18T11:06:40.123Z"
    assert binance.iso8601(1_795_000_000_123) == Exchange.iso8601(1_795_000_000_123)
