"""Order entry through the engine's public facade: validation, matching outcomes, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.core.instruments import Instrument, default_instruments
from velocimex_cli.wire.errors import (
    InsufficientBalance,
    InvalidParameter,
    NotFound,
    OrderNotOpen,
)


def order(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "exchange": "BINANCE",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "quantity": "0.01",
        "price": "60000.00",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


BAD_ORDERS = [
    ({"exchange": "NOPE"}, "exchange", "NOPE"),
    ({"symbol": "DOGE/USDT"}, "symbol", "DOGE/USDT"),
    ({"side": "hold"}, "side", "hold"),
    ({"type": "stop"}, "type", "stop"),
    ({"time_in_force": "day"}, "time_in_force", "day"),
    ({"quantity": "0"}, "quantity", "0"),
    ({"quantity": "-1"}, "quantity", "-1"),
    ({"quantity": "abc"}, "quantity", "abc"),
    ({"quantity": "0.000001"}, "quantity", "0.000001"),  # off the lot
    ({"quantity": "0.00001"}, "quantity", "0.00001"),  # below the minimum
    ({"price": "-1.00"}, "price", "-1.00"),
    ({"price": "0"}, "price", "0"),
    ({"price": "60000.001"}, "price", "60000.001"),  # off the tick
    ({"price": "NaN"}, "price", "NaN"),
    ({"price": "1e40"}, "price", "1e40"),  # beyond the largest price
    ({"side": "sell", "quantity": "1e30"}, "quantity", "1e30"),  # beyond the largest size
    ({"price": None}, "price", ""),  # limit without a price
    ({"type": "market"}, "price", "60000.00"),  # market with a price
    ({"post_only": "yes"}, "post_only", "yes"),
    ({"client_order_id": "has space"}, "client_order_id", "has space"),
    ({"leverage": 10}, "leverage", "10"),
]


@pytest.mark.parametrize(("change", "parameter", "value"), BAD_ORDERS)
def test_bad_orders_name_the_parameter_and_change_nothing(
    exchange: Exchange, change: dict[str, object], parameter: str, value: str
) -> None:
    before = exchange.state_hash()
    with pytest.raises(InvalidParameter) as caught:
        exchange.place_order("alice", order(**change))
    assert caught.value.details["parameter"] == parameter
    assert caught.value.details["value"] == value
    body = caught.value.to_body()["error"]
    assert body["code"] == "INVALID_PARAMETER"
    assert exchange.state_hash() == before


def test_reference_example_error_shape(exchange: Exchange) -> None:
    with pytest.raises(InvalidParameter) as caught:
        exchange.place_order("alice", order(price="-1.00"))
    assert caught.value.to_body()["error"]["details"] == {"parameter": "price", "value": "-1.00"}


def test_symbol_aliases_and_case_are_accepted_and_canonical_on_output(exchange: Exchange) -> None:
    placed, _ = exchange.place_order("alice", order(exchange="binance", symbol="btc-usdt"))
    assert (placed["exchange"], placed["symbol"]) == ("BINANCE", "BTC/USDT")


def test_prices_and_quantities_stay_exact(exchange: Exchange) -> None:
    placed, _ = exchange.place_order(
        "alice", order(exchange="NASDAQ", symbol="AAPL", quantity=3, price="150.50")
    )
    assert str(placed["price"]) == "150.50"
    assert str(placed["quantity"]) == "3"
    book = exchange.order_book("NASDAQ", "AAPL")
    assert str(book["bids"][0]["price"]) == "150.50"


@settings(max_examples=300, deadline=None)
@given(
    steps=st.integers(min_value=-(10**40), max_value=10**40),
    instrument=st.sampled_from(default_instruments()),
)
def test_ticks_and_lots_become_the_exact_decimal_with_the_step_s_digits(
    steps: int, instrument: Instrument
) -> None:
    """price_of / quantity_of give Decimal(n) x the step: the same value, digits and exponent
    (what the wire prints), for any whole number, beyond 28 digits too."""
    assert (
        instrument.price_of(steps).as_tuple() == (Decimal(steps) * instrument.tick_size).as_tuple()
    )
    assert (
        instrument.quantity_of(steps).as_tuple()
        == (Decimal(steps) * instrument.lot_size).as_tuple()
    )


def test_limit_order_rests_then_fills_with_fees_and_positions(exchange: Exchange) -> None:
    sell, _ = exchange.place_order("alice", order(side="sell", quantity="0.5"))
    assert sell["status"] == "open"
    buy, _ = exchange.place_order("bob", order(quantity="0.2", price="60100.00"))
    assert buy["status"] == "filled"
    assert buy["average_price"] == Decimal("60000.00")  # maker's price
    assert exchange.get_order("alice", sell["order_id"])["status"] == "partially_filled"
    fills = exchange.list_fills("bob")
    assert [(f["liquidity"], f["price"], f["quantity"]) for f in fills] == [
        ("taker", Decimal("60000.00"), Decimal("0.20000"))
    ]
    # 0.2 x 60000 = 12000 USDT; taker fee 2 bp = 2.4, maker fee 1 bp = 1.2.
    assert fills[0]["fee"] == Decimal("2.4")
    bob = {b["asset"]: b for b in exchange.balances("bob")}
    assert bob["USDT"]["total"] == Decimal("100000") - Decimal("12002.4")
    assert bob["BTC"]["total"] == Decimal("2.2")
    alice = {b["asset"]: b for b in exchange.balances("alice")}
    assert alice["USDT"]["total"] == Decimal("100000") + Decimal("12000") - Decimal("1.2")
    assert alice["BTC"]["locked"] == Decimal("0.3")
    fees = {b["asset"]: b for b in exchange.balances("fees")}
    assert fees["USDT"]["total"] == Decimal("3.6")
    (position,) = exchange.positions("bob")
    assert position["quantity"] == Decimal("0.20000")
    assert position["average_price"] == Decimal("60000.00")


def test_buy_locks_price_times_quantity_plus_fee_and_unlocks_on_cancel(exchange: Exchange) -> None:
    placed, _ = exchange.place_order("alice", order(quantity="0.1", price="50000.00"))
    usdt = {b["asset"]: b for b in exchange.balances("alice")}["USDT"]
    assert usdt["locked"] == Decimal("5001")  # 5000 + 2 bp
    canceled = exchange.cancel_order("alice", placed["order_id"])
    assert (canceled["status"], canceled["reason"]) == ("canceled", "canceled_by_user")
    usdt = {b["asset"]: b for b in exchange.balances("alice")}["USDT"]
    assert usdt["locked"] == Decimal("0")
    with pytest.raises(OrderNotOpen) as caught:
        exchange.cancel_order("alice", placed["order_id"])
    assert caught.value.http_status == 409


def test_insufficient_balance_and_no_short_selling(exchange: Exchange) -> None:
    before = exchange.state_hash()
    with pytest.raises(InsufficientBalance) as caught:
        exchange.place_order("alice", order(quantity="2", price="60000.00"))
    assert caught.value.details["asset"] == "USDT"
    with pytest.raises(InsufficientBalance):
        exchange.place_order("alice", order(side="sell", quantity="2.5"))
    with pytest.raises(InsufficientBalance):  # holds no AAPL: no short selling
        exchange.place_order(
            "alice", order(exchange="NASDAQ", symbol="AAPL", side="sell", quantity=1, price="1")
        )
    assert exchange.state_hash() == before


def test_client_order_id_is_idempotent(exchange: Exchange) -> None:
    first, created = exchange.place_order("alice", order(client_order_id="abc-1"))
    again, created_again = exchange.place_order("alice", order(client_order_id="abc-1"))
    assert created and not created_again
    assert again == first
    assert len(exchange.list_orders("alice")) == 1
    assert exchange.get_order("alice", "client_order_id:abc-1")["order_id"] == first["order_id"]
    # Another account may use the same client id.
    other, created_other = exchange.place_order("bob", order(client_order_id="abc-1"))
    assert created_other and other["order_id"] != first["order_id"]


def test_a_simulated_participant_may_reuse_the_client_id_of_a_closed_order(
    exchange: Exchange,
) -> None:
    """Simulated participants keep only live orders: once one closes, its client id is free."""
    from velocimex_cli.engine.core.ledger import AccountKind

    exchange.ensure_account("sim", AccountKind.SIMULATED)
    exchange.fund("sim", "USDT", Decimal(10_000))
    ioc = order(client_order_id="q-1", price="1000.00", time_in_force="ioc")
    first, created = exchange.place_order("sim", ioc)
    assert created and first["status"] == "canceled"
    second, created_again = exchange.place_order("sim", ioc)
    assert created_again and second["order_id"] != first["order_id"]
    resting = order(client_order_id="q-2", price="1000.00")
    live, _ = exchange.place_order("sim", resting)
    replay, created_replay = exchange.place_order("sim", resting)
    assert not created_replay and replay["order_id"] == live["order_id"]


def test_orders_of_other_accounts_are_not_found(exchange: Exchange) -> None:
    placed, _ = exchange.place_order("alice", order())
    with pytest.raises(NotFound):
        exchange.get_order("bob", placed["order_id"])
    with pytest.raises(NotFound):
        exchange.cancel_order("bob", placed["order_id"])


def test_ioc_fok_post_only_and_market_outcomes(exchange: Exchange) -> None:
    exchange.place_order("alice", order(side="sell", quantity="0.1", price="60000.00"))
    ioc, _ = exchange.place_order("bob", order(quantity="0.3", time_in_force="ioc"))
    assert (ioc["status"], ioc["reason"], ioc["filled_quantity"]) == (
        "canceled",
        "ioc_remainder",
        Decimal("0.10000"),
    )
    exchange.place_order("alice", order(side="sell", quantity="0.1", price="60000.00"))
    fok, _ = exchange.place_order("bob", order(quantity="0.3", time_in_force="fok"))
    assert (fok["status"], fok["reason"], fok["filled_quantity"]) == (
        "canceled",
        "fok_not_fillable",
        Decimal("0.00000"),
    )
    post, _ = exchange.place_order("bob", order(quantity="0.05", post_only=True))
    assert (post["status"], post["reason"]) == ("rejected", "post_only_would_take")
    market, _ = exchange.place_order("bob", order(type="market", price=None, quantity="0.3"))
    assert market["filled_quantity"] == Decimal("0.10000")
    assert (market["status"], market["reason"]) == ("canceled", "no_liquidity")
    empty, _ = exchange.place_order("bob", order(type="market", price=None, quantity="0.3"))
    assert (empty["status"], empty["reason"]) == ("rejected", "no_liquidity")


def test_market_buy_stops_at_its_protection_bound(exchange: Exchange) -> None:
    exchange.place_order("alice", order(side="sell", quantity="0.1", price="50000.00"))
    exchange.place_order("alice", order(side="sell", quantity="0.1", price="60000.00"))
    market, _ = exchange.place_order("bob", order(type="market", price=None, quantity="0.2"))
    # Bound is 50000 x 1.05 = 52500: the 60000 level is out of reach.
    assert market["filled_quantity"] == Decimal("0.10000")
    assert market["reason"] == "market_protection"


def test_self_trade_prevention_cancels_the_resting_order(exchange: Exchange) -> None:
    own, _ = exchange.place_order("alice", order(side="sell", quantity="0.1", price="59000.00"))
    other, _ = exchange.place_order("bob", order(side="sell", quantity="0.1", price="60000.00"))
    taker, _ = exchange.place_order("alice", order(quantity="0.1", price="60000.00"))
    assert taker["status"] == "filled"
    assert exchange.get_order("alice", own["order_id"])["reason"] == "self_trade_prevention"
    assert exchange.get_order("bob", other["order_id"])["status"] == "filled"


def test_cancel_all_by_account_and_instrument(exchange: Exchange) -> None:
    exchange.place_order("alice", order(price="50000.00"))
    exchange.place_order("alice", order(symbol="ETH/USDT", quantity="0.1", price="2000.00"))
    exchange.place_order("bob", order(price="50000.00"))
    canceled = exchange.cancel_all("alice", exchange="BINANCE", symbol="ETH-USDT")
    assert [o["symbol"] for o in canceled] == ["ETH/USDT"]
    assert len(exchange.cancel_all("alice")) == 1
    assert exchange.list_orders("alice") == []
    assert len(exchange.list_orders("bob")) == 1


def test_list_orders_newest_first_with_filters_and_limit(exchange: Exchange) -> None:
    ids = [
        exchange.place_order("alice", order(price=f"{50000 + i}.00"))[0]["order_id"]
        for i in range(5)
    ]
    listed = exchange.list_orders("alice", limit=3)
    assert [o["order_id"] for o in listed] == ids[::-1][:3]
    with pytest.raises(InvalidParameter):
        exchange.list_orders("alice", status="pending")
    with pytest.raises(InvalidParameter):
        exchange.list_orders("alice", limit=1001)


def test_ticker_reports_last_price_volume_and_top_of_book(exchange: Exchange, clock) -> None:
    exchange.place_order("alice", order(side="sell", quantity="0.5", price="60010.00"))
    exchange.place_order("alice", order(quantity="0.5", price="59990.00"))
    exchange.place_order("bob", order(quantity="0.2", price="60010.00"))
    ticker = exchange.ticker("binance", "btc-usdt")
    assert ticker["price"] == Decimal("60010.00")
    assert ticker["volume"] == Decimal("0.20000")
    assert (ticker["bid"], ticker["ask"]) == (Decimal("59990.00"), Decimal("60010.00"))
    clock.advance(hours=25)
    assert exchange.ticker("BINANCE", "BTC/USDT")["volume"] == Decimal("0.00000")


def test_huge_and_tiny_amounts_stay_exact_and_plain(exchange: Exchange) -> None:
    huge = "9" * 10  # 10^10 BTC: within the largest size, far beyond any balance
    exchange.set_risk_limits("alice", {"max_order_notional": None})  # the balance is tested
    with pytest.raises(InsufficientBalance) as caught:
        exchange.place_order("alice", order(quantity=huge, price="60000.00"))
    assert caught.value.details["required"] > Decimal(huge)
    exchange.fund("alice", "BTC", Decimal("0.00000001"))
    btc = {b["asset"]: b for b in exchange.balances("alice")}["BTC"]
    assert str(btc["total"]) == "2.00000001"
    exchange.fund("bob", "SOL", Decimal("0.00000001"))
    sol = {b["asset"]: b for b in exchange.balances("bob")}["SOL"]
    assert str(sol["total"]) == "0.00000001"


def test_position_market_price_is_the_exact_mid(exchange: Exchange) -> None:
    exchange.place_order("alice", order(side="sell", quantity="0.1", price="60000.00"))
    exchange.place_order("bob", order(quantity="0.05", price="60000.00"))
    exchange.place_order("alice", order(quantity="0.1", price="59990.00"))
    (position,) = exchange.positions("bob")
    assert str(position["market_price"]) == "59995.00"
    assert position["unrealized_pnl"] == Decimal("-0.25")  # 0.05 x (59995 - 60000)
    exchange.place_order("alice", order(quantity="0.1", price="59990.01"))
    (position,) = exchange.positions("bob")
    assert str(position["market_price"]) == "59995.005"
