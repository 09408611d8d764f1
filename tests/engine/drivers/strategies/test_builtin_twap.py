"""TWAP on the simulated market: completes its quantity within its duration, never beyond its
limit price, spread over its slices; a limit the market never reaches ends with a shortfall."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.engine.drivers.strategies.conftest import START, Market
from velocimex_cli.engine.drivers.strategies.builtin.twap import Twap
from velocimex_cli.wire.errors import InvalidParameter


def fills_of(market: Market, account: str = "trader") -> list[dict]:
    return list(reversed(market.exchange.list_fills(account, limit=1000)))


@pytest.mark.parametrize(("side", "limit"), [("buy", "60300.00"), ("sell", "59700.00")])
def test_twap_completes_within_duration_and_limit(market: Market, side: str, limit: str) -> None:
    params = {
        "side": side,
        "quantity": "0.05",
        "slices": 5,
        "duration": 50,
        "limit_price": limit,
    }
    host = market.deploy(Twap, params)
    market.run(host, 80)

    assert host.state == "completed", host.last_error
    fills = fills_of(market)
    assert sum(f["quantity"] for f in fills) == Decimal("0.05")
    assert {f["side"] for f in fills} == {side}
    for fill in fills:
        if side == "buy":
            assert fill["price"] <= Decimal(limit)
        else:
            assert fill["price"] >= Decimal(limit)
    stamps = sorted({f["timestamp"] for f in fills})
    assert stamps[0] == "2026-01-05T15:00:00.000000Z"  # the first slice runs at once
    end = (START + timedelta(seconds=50)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert stamps[-1] <= end
    assert len(stamps) == 5  # one slice every 10 s: 0, 10, 20, 30, 40
    position = host.tally.position(host.instrument)
    expected = Decimal("0.05") if side == "buy" else Decimal("-0.05")
    assert position.quantity == expected
    assert host.status()["orders"] == 5


def test_twap_never_trades_beyond_a_limit_the_market_does_not_reach(market: Market) -> None:
    params = {"side": "buy", "quantity": "0.01", "slices": 4, "duration": 20}
    host = market.deploy(Twap, {**params, "limit_price": "50000.00"})
    market.run(host, 40)

    assert host.state == "completed"
    assert host.stop_reason == "duration ended: filled 0 of 0.01"
    assert fills_of(market) == []
    assert market.exchange.list_orders("trader", status="open") == []
    assert any("beyond the limit" in r["message"] for r in host.logs)


def test_text_choices_match_regardless_of_case(market: Market) -> None:
    values = Twap.validate({"side": " SELL", "quantity": "0.01", "limit_price": "1"})
    assert values.side == "sell"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"quantity": "0.05", "limit_price": "60000", "slices": 0}, "slices"),
        ({"quantity": "0.000001", "limit_price": "60000"}, "quantity"),  # off the lot grid
        ({"quantity": "0.00002", "limit_price": "60000"}, "quantity"),  # below the minimum
        ({"quantity": "0.05", "limit_price": "60000.001"}, "limit_price"),  # off the tick
        ({"quantity": "0.05", "limit_price": "60000", "side": "hold"}, "side"),
        ({"quantity": "0.05"}, "limit_price"),  # required
        ({"quantity": "0.05", "limit_price": "60000", "duration": 1.5}, "duration"),
        ({"quantity": "0.05", "limit_price": "60000", "slice": 3}, "slice"),  # unknown
    ],
)
def test_bad_twap_parameters_are_named(market: Market, params: dict, named: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        market.deploy(Twap, params)
    assert caught.value.details["parameter"] == named
    assert named in caught.value.message


def test_twap_on_a_closed_market_carries_its_slices_and_reports_the_shortfall(
    market: Market,
) -> None:
    market.clock.now = START.replace(hour=22)  # NASDAQ closed (16:00 New York is 21:00 UTC)
    params = {"quantity": "10", "slices": 2, "duration": 20, "limit_price": "200.00"}
    host = market.deploy(Twap, params, exchange="NASDAQ", symbol="AAPL")
    market.run(host, 30)
    assert host.state == "completed"
    assert host.stop_reason == "duration ended: filled 0 of 10"
    closed = [r for r in host.logs if "NASDAQ is closed" in r["message"]]
    assert len(closed) == 3  # both slices and the final catch-up
    assert market.exchange.list_orders("trader", status="all") == []
