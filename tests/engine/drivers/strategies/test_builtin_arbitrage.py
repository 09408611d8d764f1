"""Cross-venue arbitrage on the simulated market (BINANCE BTC/USDT against COINBASE BTC/USD):
quiet while the venues agree within the threshold, both legs at once when a whale dislocates
one of them, and profitable net of both legs' fees."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.engine.drivers.strategies.conftest import Market
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
