"""The engine's matching, ledger and locks against a naive reference, command by command.

A Hypothesis state machine sends the same random commands (limit GTC/IOC/FOK, post-only,
market IOC/FOK, cancel, cancel-all) from three accounts on two instruments to the real
`Exchange` and to `ReferenceExchange` (tests/engine/core/reference_book.py, a plain list
re-sorted on every question), and after every step checks: the book is never crossed at rest;
fills, L2, queue order, order statuses and reasons equal the reference's; no order is
overfilled; every asset's total over all accounts equals what was funded; every lock equals what
the live orders need; no balance is negative; an INSUFFICIENT_BALANCE refusal changes no state.

Prices live in a band of a few ticks so that orders cross often and the market protection bound
(5% of the best price) cuts into the band. Funds are small enough that some orders are refused
for lack of balance.

`pytest --hypothesis-show-statistics` shows how often each outcome occurs. Example tests
below pin the trickiest rules with exact fills, statuses and reasons.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.engine.core.reference_book import (
    BPS,
    SCALE,
    Insufficient,
    Market,
    ReferenceExchange,
    RefOrder,
)
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.risk import RiskLimits
from velocimex_cli.wire.errors import InsufficientBalance, OrderNotOpen

# A Tuesday, 10:00 in New York (the engine is always open anyway).
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


ACCOUNTS = ("alice", "bob", "carol")
FEES = "fees"
MAKER_BPS = 5  # higher than the taker rate, so a lock at the taker rate would be too small
TAKER_BPS = 3
PROTECTION_BPS = 500
# (exchange, symbol, price band in ticks, quantities in lots). Around 20 ticks the 5% bound is
# one or two ticks past the best price, so market orders often stop at it.
MARKETS: tuple[tuple[str, str, range, tuple[int, ...]], ...] = (
    ("NASDAQ", "AAPL", range(20, 28), (1, 2, 3, 4, 5)),
    ("BINANCE", "ETH/USDT", range(36, 46), (10, 11, 13, 17, 25)),
)
ACTIONS = (
    ("gtc",) * 10
    + ("post_only", "ioc", "fok", "fok", "market ioc", "market fok")
    + (
        "cancel",
        "cancel",
        "cancel all",
        "cancel instrument",
    )
)
SANDBOX = {
    "USD": Decimal("4"),
    "AAPL": Decimal("12"),
    "USDT": Decimal("0.003"),
    "ETH": Decimal("0.006"),
}


def units(value: Decimal) -> int:
    scaled = value * SCALE
    assert scaled == scaled.to_integral_value(), value
    return int(scaled)


def decimal_of(amount: int) -> Decimal:
    return Decimal(amount).scaleb(-8)


def market_of(public: dict[str, Any]) -> Market:
    return Market(
        key=f"{public['exchange']}:{public['symbol']}",
        base=public["base"],
        quote=public["quote"],
        tick_size=public["tick_size"],
        lot_size=public["lot_size"],
    )


def lock_of_wire(order: dict[str, Any], market: Market, lock_bps: int) -> tuple[str, int]:
    """(asset, ledger units) a live order needs, computed from its public dict alone."""
    remaining = (order["quantity"] - order["filled_quantity"]) / market.lot_size
    assert remaining == remaining.to_integral_value() and remaining > 0, order
    lots = int(remaining)
    if order["side"] == "buy":
        ticks = order["price"] / market.tick_size
        assert ticks == ticks.to_integral_value(), order
        notional = int(ticks) * lots * market.notional_units
        return market.quote, notional + notional * lock_bps // BPS
    return market.base, lots * market.lot_units


class MatchingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = EngineConfig(
            always_open=True,
            maker_fee_bps=MAKER_BPS,
            taker_fee_bps=TAKER_BPS,
            market_protection_bps=PROTECTION_BPS,
            sandbox_funds=dict(SANDBOX),
            default_limits=RiskLimits.unlimited(),  # the model has no risk limits
        )
        self.ex = Exchange(config, fixed_clock)
        self.ref = ReferenceExchange(
            markets={},
            maker_bps=MAKER_BPS,
            taker_bps=TAKER_BPS,
            protection_bps=PROTECTION_BPS,
            fee_account=FEES,
        )
        for account in ACCOUNTS:
            assert self.ex.ensure_account(account)
            for asset, amount in SANDBOX.items():
                self.ref.fund(account, asset, units(amount))
        public = {(i["exchange"], i["symbol"]): i for i in self.ex.instruments()}
        self.markets: list[Market] = []
        self.wire_names: dict[str, tuple[str, str]] = {}
        for exchange, symbol, _band, _sizes in MARKETS:
            market = market_of(public[(exchange, symbol)])
            self.markets.append(market)
            self.ref.markets[market.key] = market
            self.wire_names[market.key] = (exchange, symbol)
        self.engine_id: dict[int, str] = {}  # reference seq -> engine order_id
        self.last_trade_id = 0
        self.fills_checked = 0

    # ------------------------------------------------------------------ commands
    def _place(
        self,
        account: str,
        index: int,
        side: str,
        type_: str,
        tif: str,
        post_only: bool,
        lots: int,
        ticks: int | None,
    ) -> None:
        market = self.markets[index]
        exchange, symbol = self.wire_names[market.key]
        request: dict[str, Any] = {
            "exchange": exchange,
            "symbol": symbol,
            "side": side,
            "type": type_,
            "quantity": str(lots * market.lot_size),
            "time_in_force": tif,
        }
        if ticks is not None:
            request["price"] = str(ticks * market.tick_size)
        if post_only:
            request["post_only"] = True
        stp_before = self._self_trade_cancels()
        expected = self.ref.place(account, market, side, type_, tif, post_only, lots, ticks)
        if isinstance(expected, Insufficient):
            before = self.ex.state_hash()
            with pytest.raises(InsufficientBalance) as caught:
                self.ex.place_order(account, request)
            assert caught.value.details == {
                "asset": expected.asset,
                "required": decimal_of(expected.required),
                "available": decimal_of(expected.available),
            }
            assert self.ex.state_hash() == before, "a refused order changed the state"
            event("insufficient_balance")
            return
        try:
            order, created = self.ex.place_order(account, request)
        except InsufficientBalance as error:  # pragma: no cover - a failure report
            raise AssertionError(
                f"engine refused {request} for {account} ({error.details}); "
                f"the reference accepts it as {expected}"
            ) from error
        assert created
        self.engine_id[expected.seq] = order["order_id"]
        self._assert_order(order, expected)
        event(f"{type_} {tif}: {order['status']} {order['reason']}")
        if self._self_trade_cancels() > stp_before:
            event("self-trade prevention canceled a resting order")

    @rule(
        account=st.sampled_from(ACCOUNTS),
        action=st.sampled_from(ACTIONS),
        index=st.integers(0, len(MARKETS) - 1),
        side=st.sampled_from(["buy", "sell"]),
        offset=st.integers(0, max(len(band) for _e, _s, band, _q in MARKETS) - 1),
        size=st.integers(0, 4),
        pick=st.integers(0, 10_000),
    )
    def act(
        self, account: str, action: str, index: int, side: str, offset: int, size: int, pick: int
    ) -> None:
        """One command, drawn with weights (one rule, so that GTC limits stay the most
        frequent and the books fill up). `pick` chooses the order a cancel aims at."""
        _exchange, _symbol, band, sizes = MARKETS[index]
        lots, price = sizes[size], band[offset % len(band)]
        if action == "cancel":
            self._cancel_one(account, pick)
        elif action == "cancel all":
            self._cancel_all(account, None)
        elif action == "cancel instrument":
            self._cancel_all(account, index)
        elif action.startswith("market "):
            self._place(account, index, side, "market", action[7:], False, lots, None)
        elif action == "post_only":
            self._place(account, index, side, "limit", "gtc", True, lots, price)
        else:
            self._place(account, index, side, "limit", action, False, lots, price)

    def _self_trade_cancels(self) -> int:
        return sum(o.reason == "self_trade_prevention" for o in self.ref.orders)

    def _orders_of(self, account: str) -> list[RefOrder]:
        return [o for o in self.ref.orders if o.account == account]

    def _cancel_one(self, account: str, pick: int) -> None:
        mine = self._orders_of(account)
        if not mine:
            return
        # Mostly live orders, sometimes a finished one (which must be refused).
        live = [o for o in mine if o.live]
        target = live[pick % len(live)] if live and pick % 4 else mine[pick % len(mine)]
        order_id = self.engine_id[target.seq]
        before = self.ex.state_hash()
        if self.ref.cancel(target):
            order = self.ex.cancel_order(account, order_id)
            self._assert_order(order, target)
            assert order["reason"] == "canceled_by_user"
            event("cancel")
        else:
            with pytest.raises(OrderNotOpen) as caught:
                self.ex.cancel_order(account, order_id)
            assert caught.value.details["status"] == target.status
            assert self.ex.state_hash() == before
            event("cancel refused: order not open")

    def _cancel_all(self, account: str, which: int | None) -> None:
        market = None if which is None else self.markets[which]
        expected = self.ref.cancel_all(account, market)
        if market is None:
            result = self.ex.cancel_all(account)
        else:
            result = self.ex.cancel_all(account, *self.wire_names[market.key])
        assert sorted(int(o["order_id"]) for o in result) == sorted(
            int(self.engine_id[o.seq]) for o in expected
        )
        by_id = {o["order_id"]: o for o in result}
        for ref_order in expected:
            self._assert_order(by_id[self.engine_id[ref_order.seq]], ref_order)
        event(f"cancel all: {len(result)} orders")

    # ------------------------------------------------------------------ checks
    def _assert_order(self, order: dict[str, Any], expected: RefOrder) -> None:
        market = expected.market
        got = (
            order["status"],
            order["reason"],
            order["filled_quantity"],
            order["quantity"],
            order["side"],
            order["type"],
        )
        want = (
            expected.status,
            expected.reason,
            expected.filled * market.lot_size,
            expected.quantity * market.lot_size,
            expected.side,
            expected.type,
        )
        assert got == want, f"order {order['order_id']}: engine {got}, reference {want}"
        assert order["filled_quantity"] <= order["quantity"]

    @invariant()
    def fills_match_reference(self) -> None:
        trades: dict[int, dict[str, dict[str, Any]]] = {}
        for account in ACCOUNTS:
            for fill in self.ex.list_fills(account, limit=1000):
                trade_id = int(fill["trade_id"])
                if trade_id > self.last_trade_id:
                    sides = trades.setdefault(trade_id, {})
                    assert fill["liquidity"] not in sides, fill
                    sides[fill["liquidity"]] = fill
        got = []
        for trade_id in sorted(trades):
            pair = trades[trade_id]
            assert set(pair) == {"maker", "taker"}, pair
            maker, taker = pair["maker"], pair["taker"]
            for key in ("price", "quantity", "exchange", "symbol"):
                assert maker[key] == taker[key], pair
            assert maker["side"] != taker["side"], pair
            got.append(
                (
                    maker["order_id"],
                    taker["order_id"],
                    maker["exchange"],
                    maker["symbol"],
                    maker["price"],
                    maker["quantity"],
                    maker["fee"],
                    taker["fee"],
                )
            )
        want = []
        for fill in self.ref.fills[self.fills_checked :]:
            market = self.ref.orders[fill.maker].market
            exchange, symbol = self.wire_names[market.key]
            notional = fill.price * fill.lots * market.notional_units
            want.append(
                (
                    self.engine_id[fill.maker],
                    self.engine_id[fill.taker],
                    exchange,
                    symbol,
                    fill.price * market.tick_size,
                    fill.lots * market.lot_size,
                    decimal_of(notional * MAKER_BPS // BPS),
                    decimal_of(notional * TAKER_BPS // BPS),
                )
            )
        assert got == want
        if trades:
            self.last_trade_id = max(trades)
        self.fills_checked = len(self.ref.fills)

    @invariant()
    def open_order_counts_are_exact(self) -> None:
        """The count behind the max_open_orders limit follows every open, fill and cancel."""
        for name, account in self.ex.ledger.accounts.items():
            live = sum(1 for order in account.orders.values() if order.is_live)
            assert account.open_orders == live, name

    @invariant()
    def books_match_reference(self) -> None:
        for market in self.markets:
            exchange, symbol = self.wire_names[market.key]
            book = self.ex.order_book(exchange, symbol, depth=1000)
            bids = [(level["price"], level["quantity"]) for level in book["bids"]]
            asks = [(level["price"], level["quantity"]) for level in book["asks"]]
            if bids and asks:
                assert bids[0][0] < asks[0][0], f"{market.key} crossed at rest: {bids} {asks}"
            for side, got in (("buy", bids), ("sell", asks)):
                want = [
                    (price * market.tick_size, lots * market.lot_size)
                    for price, lots in self.ref.levels(market, side)
                ]
                assert got == want, f"{market.key} {side} L2"
                assert all(quantity > 0 for _price, quantity in got)
            # Time priority inside the levels: the queue itself, best first.
            engine_book = self.ex.books[self.ex.instrument(exchange, symbol).index]
            for side_index, side in enumerate(("buy", "sell")):
                queue = [str(o.id) for o in engine_book.resting_orders(side_index)]
                want_queue = [self.engine_id[o.seq] for o in self.ref.side_queue(market, side)]
                assert queue == want_queue, f"{market.key} {side} queue"

    @invariant()
    def orders_match_reference(self) -> None:
        live_ids = set()
        for account in ACCOUNTS:
            engine_orders = {
                o["order_id"]: o for o in self.ex.list_orders(account, status="all", limit=1000)
            }
            mine = self._orders_of(account)
            assert len(engine_orders) == len(mine)
            for expected in mine:
                self._assert_order(engine_orders[self.engine_id[expected.seq]], expected)
                if expected.live:
                    live_ids.add(self.engine_id[expected.seq])
        assert {str(o.id) for o in self.ex.live_orders()} == live_ids

    @invariant()
    def ledger_is_conserved_and_locks_are_exact(self) -> None:
        by_symbol = {self.wire_names[m.key]: m for m in self.markets}
        lock_bps = max(MAKER_BPS, TAKER_BPS)
        sums: dict[str, Decimal] = {}
        names = list(self.ex.ledger.accounts)
        assert sorted(names) == sorted([*ACCOUNTS, FEES])
        for name in names:
            need: dict[str, int] = {}
            if name != FEES:
                for order in self.ex.list_orders(name, status="open", limit=1000):
                    market = by_symbol[(order["exchange"], order["symbol"])]
                    asset, amount = lock_of_wire(order, market, lock_bps)
                    need[asset] = need.get(asset, 0) + amount
            seen = set()
            for row in self.ex.balances(name):
                asset = row["asset"]
                seen.add(asset)
                total, available, locked = row["total"], row["available"], row["locked"]
                assert total >= 0 and available >= 0 and locked >= 0, (name, row)
                assert total == available + locked, (name, row)
                assert locked == decimal_of(need.get(asset, 0)), (name, row, need)
                assert locked == decimal_of(self.ref.locked(name, asset)), (name, row)
                assert total == decimal_of(self.ref.totals.get((name, asset), 0)), (name, row)
                sums[asset] = sums.get(asset, Decimal(0)) + total
            for asset, amount in need.items():
                assert amount == 0 or asset in seen, (name, asset)
            for (account, asset), total in self.ref.totals.items():
                if account == name and total:
                    assert asset in seen, (name, asset)
        funded = self.ex.ledger.funded
        assert funded == self.ref.funded
        assert {a: decimal_of(v) for a, v in funded.items()} == {
            a: v for a, v in sums.items() if v or a in funded
        }
        assert self.ex.ledger.totals() == funded


MatchingModel.TestCase.settings = settings(
    # The pure-Python fallback run (test_pure_python_fallback.py) asks for fewer.
    max_examples=int(os.environ.get("VMX_MODEL_EXAMPLES", "150")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMatchingModel = MatchingModel.TestCase


# ---------------------------------------------------------------------- example tests
def fresh(**config: Any) -> Exchange:
    config.setdefault("sandbox_funds", {"USD": Decimal("100000"), "AAPL": Decimal("100")})
    config.setdefault("default_limits", RiskLimits.unlimited())
    ex = Exchange(EngineConfig(always_open=True, **config), fixed_clock)
    for account in ACCOUNTS:
        ex.ensure_account(account)
    return ex


def aapl(side: str, quantity: int, price: str | None = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "exchange": "NASDAQ",
        "symbol": "AAPL",
        "side": side,
        "type": "limit" if price is not None else "market",
        "quantity": quantity,
    }
    if price is not None:
        request["price"] = price
    request.update(extra)
    return request


def fills_of(ex: Exchange, order_id: str, account: str) -> list[tuple[Decimal, Decimal, str]]:
    """(price, quantity, liquidity) of one order's fills, oldest first."""
    return [
        (f["price"], f["quantity"], f["liquidity"])
        for f in reversed(ex.list_fills(account, order_id=order_id, limit=1000))
    ]


def levels(ex: Exchange) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    book = ex.order_book("NASDAQ", "AAPL", depth=1000)
    return (
        [(lv["price"], lv["quantity"]) for lv in book["bids"]],
        [(lv["price"], lv["quantity"]) for lv in book["asks"]],
    )


def test_self_trade_prevention_cancels_own_resting_order_and_matching_goes_on() -> None:
    ex = fresh()
    bob_ask, _ = ex.place_order("bob", aapl("sell", 2, "100.00"))
    own_ask, _ = ex.place_order("alice", aapl("sell", 3, "100.00"))
    carol_ask, _ = ex.place_order("carol", aapl("sell", 4, "100.01"))
    behind, _ = ex.place_order("alice", aapl("sell", 1, "100.02"))

    taker, _ = ex.place_order("alice", aapl("buy", 5, "100.02"))

    assert (taker["status"], taker["reason"], taker["filled_quantity"]) == ("filled", None, 5)
    assert fills_of(ex, taker["order_id"], "alice") == [
        (Decimal("100.00"), Decimal(2), "taker"),
        (Decimal("100.01"), Decimal(3), "taker"),
    ]
    own = ex.get_order("alice", own_ask["order_id"])
    assert (own["status"], own["reason"], own["filled_quantity"]) == (
        "canceled",
        "self_trade_prevention",
        0,
    )
    assert ex.get_order("bob", bob_ask["order_id"])["status"] == "filled"
    carol = ex.get_order("carol", carol_ask["order_id"])
    assert (carol["status"], carol["filled_quantity"]) == ("partially_filled", 3)
    # Matching stopped before alice's ask at 100.02: it was never reached, so it stays.
    assert ex.get_order("alice", behind["order_id"])["status"] == "open"
    assert levels(ex) == ([], [(Decimal("100.01"), Decimal(1)), (Decimal("100.02"), Decimal(1))])
    assert {b["asset"]: b["locked"] for b in ex.balances("alice")}["AAPL"] == 1


def test_fok_ignores_own_liquidity_and_leaves_everything_untouched() -> None:
    ex = fresh()
    own, _ = ex.place_order("alice", aapl("sell", 5, "100.00"))
    bob, _ = ex.place_order("bob", aapl("sell", 3, "100.01"))
    before_book = levels(ex)

    fok, _ = ex.place_order("alice", aapl("buy", 5, "100.01", time_in_force="fok"))

    assert (fok["status"], fok["reason"], fok["filled_quantity"]) == (
        "canceled",
        "fok_not_fillable",
        0,
    )
    assert ex.list_fills("alice") == [] and ex.list_fills("bob") == []
    assert ex.get_order("alice", own["order_id"])["status"] == "open"  # no STP: nothing happened
    assert ex.get_order("bob", bob["order_id"])["status"] == "open"
    assert levels(ex) == before_book
    assert {b["asset"]: b["locked"] for b in ex.balances("alice")}["USD"] == 0


def test_fok_fillable_by_others_cancels_own_orders_on_the_way() -> None:
    ex = fresh()
    own, _ = ex.place_order("alice", aapl("sell", 2, "100.00"))
    bob, _ = ex.place_order("bob", aapl("sell", 5, "100.01"))

    fok, _ = ex.place_order("alice", aapl("buy", 5, "100.01", time_in_force="fok"))

    assert (fok["status"], fok["reason"], fok["filled_quantity"]) == ("filled", None, 5)
    assert fills_of(ex, fok["order_id"], "alice") == [(Decimal("100.01"), Decimal(5), "taker")]
    assert ex.get_order("alice", own["order_id"])["reason"] == "self_trade_prevention"
    assert ex.get_order("bob", bob["order_id"])["status"] == "filled"
    assert levels(ex) == ([], [])


def test_market_buy_stops_at_the_protection_bound() -> None:
    ex = fresh()
    # best ask 0.97: bound = ceil(97 x 1.05) = ceil(101.85) = 102 ticks
    for price in ("0.97", "1.02", "1.03"):
        ex.place_order("bob", aapl("sell", 2, price))

    taker, _ = ex.place_order("alice", aapl("buy", 5))

    assert (taker["status"], taker["reason"], taker["filled_quantity"]) == (
        "canceled",
        "market_protection",
        4,
    )
    assert fills_of(ex, taker["order_id"], "alice") == [
        (Decimal("0.97"), Decimal(2), "taker"),
        (Decimal("1.02"), Decimal(2), "taker"),
    ]
    assert levels(ex) == ([], [(Decimal("1.03"), Decimal(2))])
    assert {b["asset"]: b["locked"] for b in ex.balances("alice")}["USD"] == 0


def test_market_buy_bound_is_exact_on_a_whole_product() -> None:
    ex = fresh()
    # best ask 100.00: bound = 100.00 x 1.05 = 105.00 exactly; 105.01 is beyond it.
    for price in ("100.00", "105.00", "105.01"):
        ex.place_order("bob", aapl("sell", 1, price))

    taker, _ = ex.place_order("alice", aapl("buy", 3, time_in_force="fok"))
    assert (taker["status"], taker["reason"]) == ("canceled", "fok_not_fillable")

    taker, _ = ex.place_order("alice", aapl("buy", 3))
    assert fills_of(ex, taker["order_id"], "alice") == [
        (Decimal("100.00"), Decimal(1), "taker"),
        (Decimal("105.00"), Decimal(1), "taker"),
    ]
    assert (taker["status"], taker["reason"]) == ("canceled", "market_protection")


def test_market_sell_stops_at_the_protection_bound_and_never_below_one_tick() -> None:
    ex = fresh()
    # best bid 1.06: bound = floor(106 x 0.95) = floor(100.7) = 100 ticks
    for price in ("1.06", "1.00", "0.99"):
        ex.place_order("bob", aapl("buy", 2, price))
    taker, _ = ex.place_order("alice", aapl("sell", 6))
    assert fills_of(ex, taker["order_id"], "alice") == [
        (Decimal("1.06"), Decimal(2), "taker"),
        (Decimal("1.00"), Decimal(2), "taker"),
    ]
    assert (taker["status"], taker["reason"]) == ("canceled", "market_protection")

    # best bid 0.01: floor(0.95) = 0, but the bound is at least one tick
    ex.cancel_all("bob")
    ex.place_order("bob", aapl("buy", 1, "0.01"))
    taker, _ = ex.place_order("alice", aapl("sell", 2))
    assert fills_of(ex, taker["order_id"], "alice") == [(Decimal("0.01"), Decimal(1), "taker")]
    assert (taker["status"], taker["reason"]) == ("canceled", "no_liquidity")


def test_market_order_against_an_empty_side_is_rejected() -> None:
    ex = fresh()
    ex.place_order("bob", aapl("buy", 1, "100.00"))
    order, _ = ex.place_order("alice", aapl("buy", 1))
    assert (order["status"], order["reason"], order["filled_quantity"]) == (
        "rejected",
        "no_liquidity",
        0,
    )


def test_market_buy_locks_at_the_bound_and_is_refused_without_changing_state() -> None:
    ex = fresh(sandbox_funds={"USD": Decimal("200"), "AAPL": Decimal("10")})
    ex.place_order("bob", aapl("sell", 1, "100.00"))
    ex.place_order("bob", aapl("sell", 1, "100.01"))
    before = ex.state_hash()
    # Two shares would cost 200.01 + fees; the lock is at the bound 105.00: 210.00 + 2 bp.
    with pytest.raises(InsufficientBalance) as caught:
        ex.place_order("alice", aapl("buy", 2))
    assert caught.value.details == {
        "asset": "USD",
        "required": Decimal("210.042"),
        "available": Decimal("200"),
    }
    assert ex.state_hash() == before
    assert ex.list_orders("alice", status="all") == []


def test_post_only_is_rejected_when_it_would_cross() -> None:
    ex = fresh()
    ex.place_order("bob", aapl("buy", 1, "100.00"))
    ex.place_order("alice", aapl("buy", 1, "99.00"))

    crossing, _ = ex.place_order("alice", aapl("sell", 1, "100.00", post_only=True))
    assert (crossing["status"], crossing["reason"], crossing["filled_quantity"]) == (
        "rejected",
        "post_only_would_take",
        0,
    )
    resting, _ = ex.place_order("alice", aapl("sell", 1, "100.01", post_only=True))
    assert (resting["status"], resting["reason"]) == ("open", None)
    assert ex.list_fills("alice") == [] and ex.list_fills("bob") == []
    assert levels(ex) == (
        [(Decimal("100.00"), Decimal(1)), (Decimal("99.00"), Decimal(1))],
        [(Decimal("100.01"), Decimal(1))],
    )
    locked = {b["asset"]: b["locked"] for b in ex.balances("alice")}
    assert locked["AAPL"] == 1  # only the resting post-only sell holds shares


def test_priority_survives_many_cancels_at_one_level() -> None:
    """Canceled orders linger in a level's queue until it compacts: matching must skip them
    and keep arrival order for the rest."""
    ex = fresh()
    asks = [ex.place_order("bob", aapl("sell", 1, "100.00"))[0]["order_id"] for _ in range(40)]
    keep = {asks[4], asks[19], asks[38]}
    for order_id in asks:
        if order_id not in keep:
            ex.cancel_order("bob", order_id)
    assert levels(ex) == ([], [(Decimal("100.00"), Decimal(3))])
    more = ex.place_order("carol", aapl("sell", 2, "100.00"))[0]["order_id"]

    taker, _ = ex.place_order("alice", aapl("buy", 4, "100.00"))

    maker_of = {f["trade_id"]: f for f in ex.list_fills("bob") + ex.list_fills("carol")}
    in_trade_order = sorted(ex.list_fills("alice"), key=lambda f: int(f["trade_id"]))
    assert [(maker_of[f["trade_id"]]["order_id"], f["quantity"]) for f in in_trade_order] == [
        (asks[4], 1),
        (asks[19], 1),
        (asks[38], 1),
        (more, 1),
    ]
    assert taker["status"] == "filled"
    assert levels(ex) == ([], [(Decimal("100.00"), Decimal(1))])
    assert ex.get_order("carol", more)["status"] == "partially_filled"
