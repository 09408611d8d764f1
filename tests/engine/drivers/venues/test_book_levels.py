"""A venue's levels as ccxt hands them over (floats standing for the decimal of their shortest
text) become the same ticks and lots as the decimals they stand for: on the tick or skipped,
cut to whole lots, for any tick and lot a venue states."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.engine.drivers.venues.scripted_venue import (
    Mirrored,
    ScriptedSource,
    at,
    changes,
    snapshot,
)
from velocimex_cli.engine.core.instruments import Instrument, Venue, VenueKind
from velocimex_cli.engine.drivers.venues.book_apply import levels_of
from velocimex_cli.engine.drivers.venues.feed import BookChanges, BookSnapshot, MarketSpec
from velocimex_cli.engine.drivers.venues.markets import SpecError, instrument_of

STEPS = ["0.01", "0.05", "0.5", "1", "10", "25", "0.00000001", "0.0001", "0.00001", "0.1"]


def instrument(tick: str, lot: str) -> Instrument:
    spec = MarketSpec("X/Y", "X", "Y", Decimal(tick), Decimal(lot), None, None, None, None)
    return instrument_of(spec, 0, Venue("BINANCE", VenueKind.CRYPTO))


def decimal_text(units: int, places: int) -> str:
    return str(Decimal(units).scaleb(-places))


@settings(max_examples=400, deadline=None)
@given(
    tick=st.sampled_from(STEPS),
    lot=st.sampled_from(STEPS),
    numbers=st.lists(
        st.tuples(
            st.integers(0, 10**12), st.integers(0, 10), st.integers(0, 10**9), st.integers(0, 10)
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_floats_give_the_ticks_and_lots_of_the_decimals_they_stand_for(
    tick: str, lot: str, numbers: list[tuple[int, int, int, int]]
) -> None:
    texts = [(decimal_text(p, pp), decimal_text(q, qp)) for p, pp, q, qp in numbers]
    as_floats = [(float(p), float(q)) for p, q in texts]
    # the decimal each float stands for: its shortest text (what ccxt read is that text)
    as_decimals = [(Decimal(repr(p)), Decimal(repr(q))) for p, q in as_floats]
    try:
        traded = instrument(tick, lot)
    except SpecError:  # tick x lot finer than the engine's ledger: no such instrument
        assume(False)
    assert levels_of(traded, as_floats) == levels_of(traded, as_decimals)


def test_the_float_cases_binary_arithmetic_gets_wrong() -> None:
    # 0.3 / 0.1 is 2.9999999999999996 in floats; 1000.375 is off a 0.01 tick; 0.00015 is 1.5
    # lots of 0.0001 (cut to 1); a size of 0 removes the level
    traded = instrument("0.01", "0.0001")
    levels = [(0.3, 0.3), (1000.37, 0.00015), (1000.375, 1.0), (99.99, 0.0), (0.07, 0.0003)]
    assert levels_of(traded, levels) == [(30, 3000), (100037, 1), (9999, 0), (7, 3)]
    tenths = instrument("0.1", "0.1")
    assert levels_of(tenths, [(0.3, 0.3), (0.7, 2.9999999999999996)]) == [(3, 3), (7, 29)]


def test_float_levels_mirror_the_same_book_as_their_decimals(
    mirrored: Mirrored, source: ScriptedSource
) -> None:
    source.push(snapshot([("100.00", "1"), ("99.99", "2")], [("100.01", "1.5")]))
    decimal = changes([("100.00", "0.25"), ("99.97", "7")], [("100.03", "0.5")], t=1)
    source.push(decimal)
    expected = mirrored.book()
    source.push(snapshot([("100.00", "1"), ("99.99", "2")], [("100.01", "1.5")], t=2))
    source.push(
        BookChanges(
            "BTC/USDT",
            [(100.0, 0.25), (99.97, 7.0), (99.955, 3.0)],  # (99.955: off the tick, skipped)
            [(100.03, 0.5)],
            at(3),
            at(3.02),
        )
    )
    assert mirrored.book() == expected
    source.push(
        BookSnapshot("BTC/USDT", [(100.0, 0.25), (99.99, 2.0), (99.97, 7.0)],
                     [(100.01, 1.5), (100.03, 0.5)], at(4), at(4.01))
    )  # fmt: skip
    assert mirrored.book() == expected
