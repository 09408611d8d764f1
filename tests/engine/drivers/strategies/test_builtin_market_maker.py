"""The market maker on the simulated market: quotes both sides around the mid, requotes as
the market moves, and its position never leaves +-max_inventory, checked after every step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.engine.drivers.strategies.conftest import Market
from velocimex_cli.engine.drivers.strategies.builtin.market_maker import MarketMaker
from velocimex_cli.wire.errors import InvalidParameter

PARAMS = {
    "bid_spread": "0.01",
    "ask_spread": "0.01",
    "order_amount": "0.002",
    "order_levels": 2,
    "order_level_spread": "0.01",
    "order_refresh_time": 5,
    "max_inventory": "0.005",
}


def test_market_maker_stays_within_its_inventory_bound_and_requotes(market: Market) -> None:
    host = market.deploy(MarketMaker, PARAMS)
    bound = Decimal("0.005")
    positions: list[Decimal] = []
    quoted: set[tuple[str, Decimal]] = set()

    def check(step: int) -> None:
        position = host.tally.position(host.instrument).quantity
        assert -bound <= position <= bound
        positions.append(position)
        if step % 10 == 0:  # the same figure, independently summed from the account's fills
            fills = market.exchange.list_fills("trader", limit=1000)
            signed = sum(f["quantity"] if f["side"] == "buy" else -f["quantity"] for f in fills)
            assert position == signed
        orders = host.context.open_orders()
        quoted.update((o.side, o.price) for o in orders)
        # Even if every live quote filled at once, the position would stay within the bound.
        assert position + sum(o.remaining for o in orders if o.side == "buy") <= bound
        assert position - sum(o.remaining for o in orders if o.side == "sell") >= -bound

    market.run(host, 200, each=check)

    assert host.state == "running", host.last_error
    assert max(positions) == bound or min(positions) == -bound  # the bound was reached
    assert len(set(positions)) > 3  # it traded both ways, not once
    assert len(quoted) > 20  # requoted as the market moved
    assert host.strategy.refreshes > 30
    # The live quotes straddle the market's mid.
    mid = host.context.mid(exclude_own=True)
    orders = host.context.open_orders()
    assert orders
    for order in orders:
        assert (order.price < mid) if order.side == "buy" else (order.price > mid)
    host.stop()
    assert host.context.open_orders() == []
    assert market.exchange.list_orders("trader", status="open") == []


def test_quotes_are_placed_at_the_spreads_around_the_mid(market: Market) -> None:
    params = {**PARAMS, "bid_spread": "0.5", "ask_spread": "1", "order_levels": 1}
    host = market.deploy(MarketMaker, params)
    mid = host.context.mid(exclude_own=True)
    spec = host.context.instrument
    orders = {o.side: o for o in host.context.open_orders()}
    assert orders["buy"].price == spec.round_price(mid * Decimal("0.995"))
    assert orders["sell"].price == spec.round_price(mid * Decimal("1.01"), "up")
    assert orders["buy"].quantity == orders["sell"].quantity == Decimal("0.002")
    assert orders["buy"].post_only and orders["sell"].post_only
    # A refresh at the same mid keeps the quotes that are already right: no cancel, no order.
    placed = host.status()["orders"]
    host.strategy.requote()  # type: ignore[union-attr]
    assert host.status()["orders"] == placed
    assert {o.order_id for o in host.context.open_orders()} == {
        orders["buy"].order_id,
        orders["sell"].order_id,
    }


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"bid_spread": "-1"}, "bid_spread"),
        ({"order_levels": 0}, "order_levels"),
        ({"order_amount": "0.000001"}, "order_amount"),  # off BTC/USDT's lot grid
        ({"max_inventory": "abc"}, "max_inventory"),
        ({"order_refresh_time": 0}, "order_refresh_time"),
        ({"inventory": "1"}, "inventory"),
    ],
)
def test_bad_market_maker_parameters_are_named(market: Market, params: dict, named: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        market.deploy(MarketMaker, params)
    assert caught.value.details["parameter"] == named


def test_a_quote_a_risk_limit_refuses_is_skipped_then_placed_at_the_next_book(
    market: Market,
) -> None:
    exchange = market.exchange
    exchange.ensure_account("trader")
    exchange.set_risk_limits("trader", {"max_orders_per_second": 3})
    host = market.deploy(MarketMaker, PARAMS)  # wants 2 bids and 2 asks: the 4th is refused
    assert host.state == "running", host.last_error
    assert len(host.context.open_orders()) == 3
    warnings = [line["message"] for line in host.logs if line["level"] == "warning"]
    assert len(warnings) == 1 and "more than 3 orders in one second" in warnings[0]

    # A second later, a book change that leaves the mid where it was: the missing quote goes out.
    market.clock.advance(timedelta(seconds=1))
    mid = host.context.mid(exclude_own=True)
    exchange.ensure_account("other")
    far = (mid * Decimal("0.9")).quantize(Decimal(1))
    far_bid = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
               "quantity": Decimal("0.001"), "price": far}  # fmt: skip
    exchange.place_order("other", far_bid)
    host.step()
    assert host.context.mid(exclude_own=True) == mid
    assert host.state == "running", host.last_error
    assert len(host.context.open_orders()) == 4
    assert len([line for line in host.logs if line["level"] == "warning"]) == 1


def test_a_quote_filled_before_its_cancel_does_not_stop_the_market_maker(market: Market) -> None:
    """A worker reads its open orders as of the hook's start: a quote that fills meanwhile is
    no longer open when the requote cancels it. That is the market, not a fault."""
    exchange = market.exchange
    host = market.deploy(MarketMaker, PARAMS)
    stale = host.context.open_orders()
    asks = [order for order in stale if order.side == "sell"]
    best = min(asks, key=lambda order: order.price)
    exchange.ensure_account("taker")
    lift = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "type": "limit",
            "quantity": best.remaining, "price": best.price, "time_in_force": "ioc"}  # fmt: skip
    exchange.place_order("taker", lift)
    assert exchange.get_order("trader", best.order_id)["status"] == "filled"
    # The market moves too, so the requote wants other prices and cancels the stale quotes.
    ask = host.context.best_ask(exclude_own=True)
    tick = Decimal("0.01")
    exchange.place_order("taker", {**lift, "price": ask - tick, "quantity": Decimal("0.001"),
                                   "time_in_force": "gtc"})  # fmt: skip
    position = host.context.position().quantity
    host.strategy.ctx.open_orders = lambda *args, **kwargs: stale  # type: ignore[method-assign]
    host.strategy.requote()
    assert host.state == "running", host.last_error
    assert position < 0  # the fill is seen: the next quotes are sized from it
    assert abs(host.context.position().quantity) <= Decimal(PARAMS["max_inventory"])
