"""StrategyHost: what a strategy is told, what it may do, and what happens when it misbehaves,
through the host's public entry points on a real exchange with an injected clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.engine.drivers.strategies.conftest import START, Market, SimClock
from velocimex_cli.engine.core.events import BookEvent, OrderEvent, TradeEvent
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.drivers.strategies.host import StrategyHost
from velocimex_cli.engine.drivers.strategies.loader import load_strategy_source
from velocimex_cli.strategy import BookTop, FillInfo, OrderInfo, Param, Strategy, TradeTick
from velocimex_cli.wire.errors import InsufficientBalance, InvalidParameter, NotFound, OrderNotOpen

BTC = {"exchange": "BINANCE", "symbol": "BTC/USDT"}


class Recorder(Strategy):
    """Records every hook call; places one resting bid and one market buy on start."""

    id = "recorder"
    params = {"bid": Param(Decimal, Decimal("50000.00"))}  # noqa: RUF012

    def on_start(self) -> None:
        self.calls: list[tuple[str, Any]] = [("start", None)]
        self.resting = self.ctx.buy(Decimal("0.001"), self.config.bid)
        self.taken = self.ctx.buy(Decimal("0.001"))

    def on_book(self, book: BookTop) -> None:
        self.calls.append(("book", book))

    def on_trade(self, trade: TradeTick) -> None:
        self.calls.append(("trade", trade))

    def on_order(self, order: OrderInfo) -> None:
        self.calls.append(("order", order))

    def on_fill(self, fill: FillInfo) -> None:
        self.calls.append(("fill", fill))

    def on_timer(self, name: str) -> None:
        self.calls.append(("timer", (name, self.ctx.now())))

    def on_stop(self) -> None:
        self.calls.append(("stop", None))

    def kinds(self, kind: str) -> list[Any]:
        return [value for k, value in self.calls if k == kind]


def test_orders_are_tagged_and_only_own_orders_are_reported(market: Market) -> None:
    host = market.deploy(Recorder)
    strategy: Recorder = host.strategy  # type: ignore[assignment]
    # Manual orders on the same account, after the deployment started: not its business.
    manual, _ = market.exchange.place_order(
        "trader", {**BTC, "side": "buy", "price": "40000", "quantity": "0.001"}
    )
    market.exchange.place_order("trader", {**BTC, "side": "buy", "quantity": "0.001"})
    assert strategy.resting.client_order_id == "d1:1"
    assert strategy.taken.client_order_id == "d1:2"
    assert strategy.taken.status == "filled"
    # The same order stream as manual orders: the account lists them.
    listed = {o["client_order_id"] for o in market.exchange.list_orders("trader", status="all")}
    assert listed == {None, "d1:1", "d1:2"}
    market.run(host, 3)
    orders = strategy.kinds("order")
    assert {o.client_order_id for o in orders} == {"d1:1", "d1:2"}
    assert [o.event for o in orders if o.client_order_id == "d1:2"] == ["accepted", "filled"]
    fills = strategy.kinds("fill")
    assert fills and {f.order_id for f in fills} == {strategy.taken.order_id}
    assert all(isinstance(f.price, Decimal) for f in fills)
    # Public trades of the deployed instrument only, with its own print among them.
    trades = strategy.kinds("trade")
    assert trades and {(t.exchange, t.symbol) for t in trades} == {("BINANCE", "BTC/USDT")}
    assert strategy.calls[0] == ("start", None)
    # Stopping cancels the deployment's open orders, never the manual one.
    host.stop()
    assert host.state == "stopped" and strategy.calls[-1] == ("stop", None)
    still_open = market.exchange.list_orders("trader", status="open")
    assert [o["order_id"] for o in still_open] == [manual["order_id"]]
    status = host.status()
    assert status["orders"] == 2 and status["fills"] == len(fills)
    assert status["positions"][0]["quantity"] == Decimal("0.00100")
    # The average price as the engine writes it: its only fills are the market buy's.
    taken = strategy.taken.order_id
    engine_average = market.exchange.get_order("trader", taken)["average_price"]
    assert status["positions"][0]["average_price"] == engine_average
    with pytest.raises(OrderNotOpen):
        host.context.cancel(taken)  # filled: known, but no longer open
    with pytest.raises(NotFound):
        host.context.cancel(manual["order_id"])  # the account's, not the deployment's


def test_book_changes_are_coalesced_into_the_book_as_it_is_now(market: Market) -> None:
    host = market.deploy(Recorder)
    strategy: Recorder = host.strategy  # type: ignore[assignment]
    strategy.calls.clear()
    for price in ("59000.00", "59001.00", "59002.00"):
        order = {**BTC, "side": "buy", "price": price, "quantity": "0.001"}
        market.exchange.place_order("trader", order)
    host.step()
    books = strategy.kinds("book")
    assert len(books) == 1  # three changes, one call: the book as it is when the hook runs
    book = market.exchange.order_book("BINANCE", "BTC/USDT", 1)
    assert (books[0].bid, books[0].ask) == (book["bids"][0]["price"], book["asks"][0]["price"])
    assert books[0].sequence == book["sequence"]
    assert books[0].mid == (books[0].bid + books[0].ask) / 2


def test_strategy_orders_never_overtake_the_events_that_caused_them(market: Market) -> None:
    """A listener (the WebSocket hub) sees each book's sequence in order, and a strategy's
    reaction only after the trade it reacted to."""

    class Chaser(Strategy):
        id = "chaser"

        def on_trade(self, trade: TradeTick) -> None:
            if trade.quantity != Decimal("0.00010"):
                self.ctx.sell(Decimal("0.0001"))

    seen: list[Any] = []
    market.exchange.add_listener(seen.append)
    host = market.deploy(Chaser)
    market.run(host, 20)
    sequences: dict[tuple[str, str], int] = {}
    for event in seen:
        if isinstance(event, BookEvent):
            key = (event.exchange, event.symbol)
            assert event.sequence == sequences.get(key, event.sequence - 1) + 1
            sequences[key] = event.sequence
    own = [i for i, e in enumerate(seen) if isinstance(e, OrderEvent) and e.account == "trader"]
    first_trade = next(i for i, e in enumerate(seen) if isinstance(e, TradeEvent))
    assert own and own[0] > first_trade


def test_timers_fire_on_the_injected_clock() -> None:
    clock = SimClock()
    exchange = Exchange(EngineConfig(), clock)
    exchange.ensure_account("trader")

    class Ticker(Recorder):
        def on_start(self) -> None:
            self.calls = []
            self.ctx.set_timer("beat", 10)
            self.ctx.set_timer("once", timedelta(seconds=25), repeat=False)
            self.ctx.set_timer("canceled", 5)
            self.ctx.cancel_timer("canceled")

    host = StrategyHost(
        exchange, Ticker, deployment_id="t", account="trader",
        exchange_name="BINANCE", symbol="BTC/USDT",
    )  # fmt: skip
    host.start()
    strategy: Ticker = host.strategy  # type: ignore[assignment]
    for _ in range(30):
        clock.advance(timedelta(seconds=1))
        host.step()
    clock.advance(timedelta(seconds=35))  # missed beats are skipped, not replayed
    host.step()
    fired = [(name, int((at - START).total_seconds())) for name, at in strategy.kinds("timer")]
    assert fired == [("beat", 10), ("beat", 20), ("once", 25), ("beat", 30), ("beat", 65)]
    clock.advance(timedelta(seconds=4))  # the next beat is due at 70, on its 10 s grid
    host.step()
    assert len(strategy.kinds("timer")) == 5
    clock.advance(timedelta(seconds=1))
    host.step()
    assert strategy.kinds("timer")[-1] == ("beat", START + timedelta(seconds=70))


def test_an_exception_stops_the_deployment_and_matching_goes_on(market: Market) -> None:
    class Faulty(Recorder):
        def on_trade(self, trade: TradeTick) -> None:
            raise ZeroDivisionError("boom")

    host = market.deploy(Faulty)
    market.run(host, 10)
    assert host.state == "failed"
    assert host.last_error == "on_trade: ZeroDivisionError: boom"
    assert host.logs[-1]["level"] == "error" and "Traceback" in host.logs[-1]["message"]
    assert market.exchange.list_orders("trader", status="open") == []  # its bid was canceled
    assert host.step() == 0  # nothing more is dispatched
    order, created = market.exchange.place_order(
        "trader", {**BTC, "side": "buy", "price": "50000", "quantity": "0.001"}
    )
    assert created and order["status"] == "open"  # the engine goes on


def test_a_refused_order_raises_the_api_error_into_the_strategy(market: Market) -> None:
    class Greedy(Strategy):
        id = "greedy"

        def on_start(self) -> None:
            try:
                self.ctx.buy(Decimal("1000"), Decimal("60000"))
            except InsufficientBalance as exc:
                self.ctx.log(f"refused: {exc.message}")
            self.ctx.buy(Decimal("0.0000001"))  # off the lot grid: not caught

    host = market.deploy(Greedy)
    assert any(r["message"].startswith("refused: Not enough USDT") for r in host.logs)
    assert host.state == "failed"
    assert "InvalidParameter" in host.last_error and "lot size" in host.last_error
    assert host.status()["rejected_orders"] == 2


def test_stop_from_the_strategy_completes_it(market: Market) -> None:
    class Once(Recorder):
        def on_fill(self, fill: FillInfo) -> None:
            super().on_fill(fill)
            self.ctx.stop("got my fill")

    host = market.deploy(Once)
    market.run(host, 5)
    assert host.state == "completed" and host.stop_reason == "got my fill"
    assert host.strategy.kinds("stop") == [None]  # type: ignore[union-attr]
    assert market.exchange.list_orders("trader", status="open") == []
    with pytest.raises(InvalidParameter, match="is completed"):
        host.context.buy(Decimal("0.001"))


def test_a_redeployed_id_continues_its_client_order_ids(market: Market) -> None:
    first = market.deploy(Recorder)
    first.stop()
    second = market.deploy(Recorder)  # the same deployment id, e.g. after a restart
    assert second.strategy.resting.client_order_id == "d1:3"  # type: ignore[union-attr]


def test_exclude_own_leaves_the_deployments_quotes_out(market: Market) -> None:
    class Inside(Strategy):
        id = "inside"

        def on_start(self) -> None:
            bid = self.ctx.best_bid()
            assert bid is not None
            self.ctx.buy(Decimal("0.001"), bid + Decimal("0.01"), post_only=True)

    market.exchange.ensure_account("trader")
    before = market.exchange.order_book("BINANCE", "BTC/USDT", 3)["bids"]
    host = market.deploy(Inside)
    ctx = host.context
    assert ctx.best_bid() == before[0]["price"] + Decimal("0.01")
    assert ctx.best_bid(exclude_own=True) == before[0]["price"]
    levels = ctx.book(depth=3, exclude_own=True).bids
    assert [(lv.price, lv.quantity) for lv in levels] == [
        (b["price"], b["quantity"]) for b in before
    ]
    assert ctx.mid(exclude_own=True) == (before[0]["price"] + ctx.best_ask()) / 2


def test_context_reports_instrument_balances_and_fees(market: Market) -> None:
    host = market.deploy(Recorder)
    ctx = host.context
    assert ctx.instrument.tick_size == Decimal("0.01")
    assert ctx.instrument.min_quantity == Decimal("0.0001")
    assert ctx.instrument.round_price(Decimal("60000.019")) == Decimal("60000.01")
    assert ctx.instrument.round_price(Decimal("60000.011"), "up") == Decimal("60000.02")
    assert ctx.instrument_for("KRAKEN", "btc-usd").tick_size == Decimal("0.1")
    assert ctx.balance("BTC").total == Decimal("2.001")  # sandbox 2 + the market buy
    assert ctx.balances()["USDT"].locked > 0  # the resting bid
    assert ctx.fee_rates().taker == Decimal("0.0002")
    assert ctx.now() == START
    with pytest.raises(InvalidParameter, match="give both exchange and symbol"):
        ctx.best_bid("BINANCE")
    with pytest.raises(InvalidParameter, match="level must be one of"):
        ctx.log("x", "loud")  # type: ignore[arg-type]
    ctx.log("y" * 5000)
    assert len(host.logs[-1]["message"]) == 2000


def test_a_loaded_user_file_runs_in_the_host(market: Market) -> None:
    source = """
from decimal import Decimal
from velocimex_cli.strategy import Param, Strategy

class EveryNth(Strategy):
    id = "every-nth"
    params = {"n": Param(int, 3, min=1)}

    def on_start(self):
        self.seen = 0

    def on_trade(self, trade):
        self.seen += 1
        if self.seen % self.config.n == 0:
            self.ctx.buy(Decimal("0.0001"))
"""
    cls = load_strategy_source(source, "every_nth.py")
    host = market.deploy(cls, {"n": 2})
    market.run(host, 30)
    assert host.state == "running", host.last_error
    assert host.status()["orders"] >= 2
    assert host.strategy.seen // 2 <= host.status()["orders"]  # type: ignore[union-attr]


def test_the_same_run_twice_gives_the_same_result() -> None:
    def run() -> tuple[Any, ...]:
        from tests.engine.drivers.strategies.conftest import MarketSimulator

        clock = SimClock()
        exchange = Exchange(EngineConfig(seed=3), clock)
        simulator = MarketSimulator(exchange, seed=3)
        simulator.seed_books()
        market = Market(exchange, simulator, clock)
        from velocimex_cli.engine.drivers.strategies.builtin.market_maker import MarketMaker

        host = market.deploy(MarketMaker, {"bid_spread": "0.01", "ask_spread": "0.01"})
        market.run(host, 60)
        return host.status()["fills"], host.status()["realized_pnl"], exchange.state_hash()

    assert run() == run()


def test_instrument_checks_are_a_class_method_any_host_can_run(market: Market) -> None:
    """The node's worker runs `check` itself before building the class (whose context is
    usable only from on_start): it needs only the validated values and the instrument."""
    from velocimex_cli.engine.drivers.strategies.builtin.sma_cross import SmaCross

    host = market.deploy(Recorder)
    with pytest.raises(InvalidParameter) as caught:
        SmaCross.check(SmaCross.validate({"fast": 10, "slow": 5}), host.context.instrument)
    assert caught.value.details["parameter"] == "fast"
    with pytest.raises(InvalidParameter) as caught:
        SmaCross.check(SmaCross.validate({"order_amount": "0.000001"}), host.context.instrument)
    assert caught.value.details["parameter"] == "order_amount"
    SmaCross.check(SmaCross.validate({"fast": 2, "slow": 3}), host.context.instrument)


def test_the_documented_example_strategy_loads_and_trades(market: Market) -> None:
    from pathlib import Path

    text = (Path(__file__).parents[4] / "docs" / "strategies.md").read_text()
    source = text.split("```python\n", 1)[1].split("```", 1)[0]
    cls = load_strategy_source(source, "buy_the_dip.py")
    assert cls.id == "buy-the-dip"
    host = market.deploy(cls, {"drop_pct": "0.01", "take_profit_pct": "0.01", "cooldown": 5})
    market.run(host, 120)
    assert host.state == "running", host.last_error
    buys = [f for f in market.exchange.list_fills("trader", limit=1000) if f["side"] == "buy"]
    sells = [o for o in market.exchange.list_orders("trader", status="all") if o["side"] == "sell"]
    assert buys  # it bought a dip ...
    # ... and offered each fill back take_profit_pct higher.
    assert len(sells) == len(buys)
    for fill, order in zip(reversed(buys), reversed(sells), strict=True):
        assert order["quantity"] == fill["quantity"]
        assert order["price"] >= fill["price"] * Decimal("1.0001")


def test_values_a_strategy_gets_survive_a_pipe(market: Market) -> None:
    """The node's worker receives them pickled: every value type round-trips equal."""
    import pickle

    from velocimex_cli.engine.drivers.strategies.builtin.twap import Twap

    host = market.deploy(Recorder)
    market.run(host, 3)
    strategy: Recorder = host.strategy  # type: ignore[assignment]
    values = [value for _, value in strategy.calls if value is not None]
    values += [
        host.context.instrument,
        host.context.position(),
        host.context.balance("BTC"),
        host.context.book(depth=2),
        host.context.fee_rates(),
        host.params,
        Twap.validate({"quantity": "1", "limit_price": "2"}),
    ]
    assert {type(v).__name__ for v in values} >= {"BookTop", "TradeTick", "OrderInfo", "FillInfo"}
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value


def test_sys_exit_in_a_hook_ends_only_the_deployment(market: Market) -> None:
    class Quitter(Recorder):
        def on_trade(self, trade: TradeTick) -> None:
            raise SystemExit(3)

    host = market.deploy(Quitter)
    market.run(host, 10)
    assert host.state == "failed" and host.last_error == "on_trade: SystemExit: 3"
