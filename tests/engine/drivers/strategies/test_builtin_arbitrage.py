"""Cross-venue arbitrage on the simulated market (BINANCE BTC/USDT against COINBASE BTC/USD):
quiet while the venues agree within the threshold, both legs at once when a whale dislocates
one of them, and profitable net of both legs' fees."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from tests.engine.drivers.strategies.conftest import Market, SimClock
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.engine.drivers.strategies.builtin.arbitrage import Arbitrage
from velocimex_cli.wire.errors import InvalidParameter

PARAMS = {"min_edge_bps": "10", "order_amount": "0.01", "max_position": "0.05"}


def dislocate(market: Market, price: str) -> None:
    """A whale bids far above COINBASE's market: its asks are swept and the rest rests."""
    exchange = market.exchange
    exchange.ensure_account("whale")
    exchange.fund("whale", "USD", Decimal(10_000_000))
    # The whale is the test's lever, not a trader to protect: its size is past the default
    # max_order_notional on purpose.
    exchange.set_risk_limits("whale", {"max_order_notional": None})
    order = {"exchange": "COINBASE", "symbol": "BTC/USD", "side": "buy", "quantity": "20"}
    exchange.place_order("whale", {**order, "price": price})


def net_edge_bps(market: Market, fee: Decimal) -> Decimal:
    """The better of the two directions' edge after both taker fees, from the books."""
    a = market.exchange.order_book("BINANCE", "BTC/USDT", 1)
    b = market.exchange.order_book("COINBASE", "BTC/USD", 1)
    edges = []
    for buy, sell in ((a["asks"], b["bids"]), (b["asks"], a["bids"])):
        if buy and sell:
            low, high = buy[0]["price"], sell[0]["price"]
            edges.append((high - low - fee * (high + low)) / low * 10_000)
    return max(edges)


def test_arbitrage_trades_exactly_when_the_edge_clears_the_threshold(market: Market) -> None:
    """The venues' prices walk apart and back on their own: at every step, orders iff the
    books showed an edge of at least min_edge_bps after fees (and the position bound left
    room)."""
    host = market.deploy(Arbitrage, PARAMS)
    fee = host.context.fee_rates().taker
    quiet = fired = 0
    for _ in range(150):
        market.clock.advance(timedelta(seconds=1))
        market.simulator.step()
        edge = net_edge_bps(market, fee)
        before = host.status()["orders"]
        full = abs(host.context.position().quantity) == Decimal("0.05")
        host.step()
        placed = host.status()["orders"] - before
        if edge >= Decimal(10) and not full:
            fired += 1
            assert placed >= 2  # both legs
        elif edge < Decimal(10):
            quiet += 1
            assert placed == 0, edge
    assert host.state == "running", host.last_error
    assert quiet > 20 and fired > 0  # both cases happened


def test_arbitrage_fires_on_a_forced_dislocation(market: Market) -> None:
    host = market.deploy(Arbitrage, {**PARAMS, "min_edge_bps": "50"})
    market.run(host, 20)
    assert host.status()["orders"] == 0
    binance_ask = host.context.best_ask()
    dislocate(market, "60600.00")
    assert host.context.best_bid("COINBASE", "BTC/USD") == Decimal("60600.00")
    host.step()

    fills = market.exchange.list_fills("trader")
    bought = [f for f in fills if f["side"] == "buy"]
    sold = [f for f in fills if f["side"] == "sell"]
    assert {f["exchange"] for f in bought} == {"BINANCE"}
    assert {f["exchange"] for f in sold} == {"COINBASE"}
    assert {f["price"] for f in sold} == {Decimal("60600.00")}
    assert all(f["price"] <= binance_ask for f in bought)
    # Leg after leg while the edge lasts, until the position bound (0.05) stops it.
    quantity = sum(f["quantity"] for f in bought)
    assert quantity == sum(f["quantity"] for f in sold) == Decimal("0.05")
    assert len(bought) == len(sold) == 5  # order_amount 0.01 each
    # Net of both legs' fees, USDT at par with USD: a profit.
    paid = sum(f["price"] * f["quantity"] + f["fee"] for f in bought)
    received = sum(f["price"] * f["quantity"] - f["fee"] for f in sold)
    assert received - paid > 0
    market.run(host, 10)
    for venue, symbol in (("BINANCE", "BTC/USDT"), ("COINBASE", "BTC/USD")):
        assert abs(host.context.position(venue, symbol).quantity) <= Decimal("0.05")


def test_an_edge_below_the_threshold_is_left_alone(market: Market) -> None:
    host = market.deploy(Arbitrage, {**PARAMS, "min_edge_bps": "500"})
    market.run(host, 5)
    dislocate(market, "60600.00")  # ~100 bps: below the 500 asked for
    market.run(host, 5)
    assert host.status()["orders"] == 0


def test_an_unmatched_leg_is_hedged_on_the_better_venue(market: Market) -> None:
    host = market.deploy(Arbitrage, {**PARAMS, "min_edge_bps": "500"})
    ctx = host.context
    # A first leg whose second never came (as if the book moved away between them).
    ctx.buy(Decimal("0.003"), exchange="BINANCE", symbol="BTC/USDT")
    better = max(
        ("BINANCE", "BTC/USDT", ctx.best_bid("BINANCE", "BTC/USDT")),
        ("COINBASE", "BTC/USD", ctx.best_bid("COINBASE", "BTC/USD")),
        key=lambda venue: venue[2],
    )
    market.run(host, 3)
    net = ctx.position("BINANCE", "BTC/USDT").quantity
    net += ctx.position("COINBASE", "BTC/USD").quantity
    assert net == 0
    sells = [f for f in market.exchange.list_fills("trader") if f["side"] == "sell"]
    assert sum(f["quantity"] for f in sells) == Decimal("0.003")
    assert {(f["exchange"], f["symbol"]) for f in sells} == {better[:2]}
    assert any("hedging an unmatched leg: sell 0.003" in r["message"] for r in host.logs)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"other_exchange": "BINANCE", "other_symbol": "BTC/USDT"}, "other_symbol"),
        ({"min_edge_bps": "-1"}, "min_edge_bps"),
        ({"quote_rate": "0"}, "quote_rate"),
        ({"order_amount": "lots"}, "order_amount"),
    ],
)
def test_bad_arbitrage_parameters_are_named(market: Market, params: dict, named: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        market.deploy(Arbitrage, params)
    assert caught.value.details["parameter"] == named


def test_another_base_asset_stops_the_deployment_with_a_clear_error(market: Market) -> None:
    host = market.deploy(Arbitrage, {"other_exchange": "COINBASE", "other_symbol": "ETH/USD"})
    assert host.state == "failed"
    assert "COINBASE:ETH/USD trades ETH, not BTC" in host.last_error


# Each venue's own taker rate (a mirrored venue's, as its markets state it): Binance 0.1%,
# Coinbase 0.6%.
VENUE_TAKERS = {
    ("BINANCE", "BTC/USDT"): Decimal("0.001"),
    ("COINBASE", "BTC/USD"): Decimal("0.006"),
}


@pytest.fixture
def venues_market() -> Market:
    """The simulated market, its BTC instruments on their venues' own fee rates."""
    clock = SimClock()
    exchange = Exchange(EngineConfig(seed=7), clock)
    for (venue, symbol), taker in VENUE_TAKERS.items():
        listed = exchange.catalogue.find(venue, symbol)
        exchange.replace_instrument(replace(listed, maker_fee=taker / 2, taker_fee=taker))
    simulator = MarketSimulator(exchange, seed=7)
    simulator.seed_books()
    return Market(exchange, simulator, clock)


def edge_on(market: Market, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    """Buying BINANCE's ask and selling COINBASE's bid, in bps after the given taker fees."""
    ask = market.exchange.order_book("BINANCE", "BTC/USDT", 1)["asks"][0]["price"]
    bid = market.exchange.order_book("COINBASE", "BTC/USD", 1)["bids"][0]["price"]
    return (bid - ask - buy_fee * ask - sell_fee * bid) / ask * 10_000


def test_each_leg_is_netted_of_its_own_venues_taker_fee(venues_market: Market) -> None:
    """Coinbase's bid 0.5% over Binance's ask: 30 bps after Binance's 0.1% on both legs (what
    the strategy used to subtract), but -20 bps after 0.1% to buy on Binance and 0.6% to sell
    on Coinbase: no trade at min_edge_bps 10. At 1.2% over, 49 bps net: both legs trade, and
    each pays its venue's rate."""
    market = venues_market
    host = market.deploy(Arbitrage, {**PARAMS, "min_edge_bps": "10"})
    assert host.context.fee_rates("COINBASE", "BTC/USD").taker == Decimal("0.006")
    assert host.context.fee_rates().taker == Decimal("0.001")
    market.run(host, 5)
    assert host.status()["orders"] == 0
    ask = host.context.best_ask()
    assert ask is not None

    def whale_bid(over: str) -> None:
        dislocate(market, str((ask * (1 + Decimal(over))).quantize(Decimal("0.01"), ROUND_DOWN)))

    whale_bid("0.005")
    binance, coinbase = VENUE_TAKERS.values()
    one_rate = edge_on(market, binance, binance)
    per_leg = edge_on(market, binance, coinbase)
    assert one_rate >= 10 > per_leg  # the old arithmetic would have traded
    host.step()
    assert host.status()["orders"] == 0, per_leg

    whale_bid("0.012")
    assert edge_on(market, binance, coinbase) >= 10
    host.step()
    assert host.state == "running", host.last_error
    fills = market.exchange.list_fills("trader")
    assert {(f["exchange"], f["side"]) for f in fills} == {("BINANCE", "buy"), ("COINBASE", "sell")}
    for fill in fills:
        rate = VENUE_TAKERS[(fill["exchange"], fill["symbol"])]
        assert fill["liquidity"] == "taker"
        assert fill["fee"] == (fill["price"] * fill["quantity"] * rate).quantize(
            Decimal("1e-8"), ROUND_DOWN
        )
