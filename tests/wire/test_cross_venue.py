"""The cross-venue edge (wire/cross_venue.py) against a naive reference in exact fractions."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from velocimex_cli.wire.cross_venue import VenueQuote, best_spread, edge_bps, net_edge

# Prices with up to 8 decimals, fees from 0 to 1% with up to 6: what venues quote.
PRICES = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10_000_000), places=8)
FEES = st.decimals(min_value=Decimal(0), max_value=Decimal("0.01"), places=6)
OPTIONAL_PRICES = st.none() | PRICES


def reference_bps(buy: Decimal, sell: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Fraction:
    """The edge in bps as plainly as it can be said, exactly."""
    paid = Fraction(buy) * (1 + Fraction(buy_fee))  # what buying one unit costs
    received = Fraction(sell) * (1 - Fraction(sell_fee))  # what selling it brings
    return (received - paid) / Fraction(buy) * 10_000


@given(PRICES, PRICES, FEES, FEES)
def test_the_edge_is_the_exact_net_of_both_fees(
    buy: Decimal, sell: Decimal, buy_fee: Decimal, sell_fee: Decimal
) -> None:
    net = net_edge(buy, sell, buy_fee, sell_fee)
    exact_net = Fraction(sell) * (1 - Fraction(sell_fee)) - Fraction(buy) * (1 + Fraction(buy_fee))
    assert Fraction(net) == exact_net  # these digits fit Decimal's precision: no rounding
    bps = edge_bps(buy, sell, buy_fee, sell_fee)
    exact = reference_bps(buy, sell, buy_fee, sell_fee)
    assert abs(Fraction(bps) - exact) <= abs(exact) * Fraction(1, 10**25) + Fraction(1, 10**20)


@st.composite
def quotes(draw: st.DrawFn) -> list[VenueQuote]:
    count = draw(st.integers(0, 5))
    return [
        VenueQuote(f"V{i}", "BTC/USD", draw(OPTIONAL_PRICES), draw(OPTIONAL_PRICES), draw(FEES))
        for i in range(count)
    ]


@given(quotes())
def test_the_best_spread_is_the_best_pair_of_two_venues(venues: list[VenueQuote]) -> None:
    pairs = [
        (reference_bps(buy.ask, sell.bid, buy.taker_fee, sell.taker_fee), buy, sell)
        for buy in venues
        for sell in venues
        if buy is not sell and buy.ask is not None and sell.bid is not None
    ]
    spread = best_spread(venues)
    if not pairs:
        assert spread is None
        return
    assert spread is not None and spread.buy is not spread.sell
    best = max(bps for bps, _, _ in pairs)
    assert (spread.buy_price, spread.sell_price) == (spread.buy.ask, spread.sell.bid)
    chosen = reference_bps(
        spread.buy_price, spread.sell_price, spread.buy.taker_fee, spread.sell.taker_fee
    )
    assert abs(chosen - best) <= abs(best) * Fraction(1, 10**24) + Fraction(1, 10**20)
    assert spread.net == net_edge(
        spread.buy_price, spread.sell_price, spread.buy.taker_fee, spread.sell.taker_fee
    )


def test_a_worked_example_and_a_negative_spread() -> None:
    cheap = VenueQuote(
        "KRAKEN", "BTC/USD", Decimal("59990.0"), Decimal("60000.0"), Decimal("0.0026")
    )
    dear = VenueQuote(
        "COINBASE", "BTC/USD", Decimal("60500.00"), Decimal("60510.00"), Decimal("0.006")
    )
    spread = best_spread([cheap, dear])
    assert spread is not None and (spread.buy, spread.sell) == (cheap, dear)
    # 60500 - 60000 - 0.0026 * 60000 - 0.006 * 60500 = 500 - 156 - 363
    assert spread.net == Decimal("-19.0000")
    assert spread.bps.quantize(Decimal("0.01")) == Decimal("-3.17")
    assert best_spread([cheap]) is None  # one venue is no spread
    assert best_spread([cheap, VenueQuote("X", "BTC/USD", None, None, Decimal(0))]) is None
