"""The C engine path (native_path.py and native_path.c) against the Python engine.

A seeded random stream goes through the engine's public functions twice, in subprocesses: once
with the C core (where `place`, `cancel_live` and settlement take the C path whenever they can)
and once with VMX_PURE_PYTHON=1 (the Python engine, the reference). The stream mixes resting
limit orders, crossing limits, market orders, IOC, FOK, post-only, client_order_id replays,
cancels (in-process and wire), self-trades, partial fills, rejections for balance and for risk
limits, a simulated participant, an account whose orders' locks can pass 64 bits, listeners
with various interests coming and going (all events; some accounts' orders and fills, with or
without book events; trades only: the C path runs under those that want none of its command's
events but its trades) and a clock that moves (the per-second limit and the 24-hour volume).
One run persists to SQLite and is reopened at the end, so the changes the C path hands the
store are checked too. Every outcome, balance, position, order, fill, the ticker, the state
hash and every event each listener received must be the same.
"""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock
from tests.core_variants import run_script
from velocimex_cli.engine.core import native_path
from velocimex_cli.engine.core.events import Event, FillEvent, OrderEvent, TradeEvent
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange, Interest
from velocimex_cli.engine.core.orders import BUY, GTC, IOC, SELL

RUN = r"""
import dataclasses, json, random, sys, tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tests.conftest import FakeClock
from velocimex_cli.engine.core import native_path
from velocimex_cli.engine.core.exchange import EVERYTHING, EngineConfig, Exchange, Interest
from velocimex_cli.engine.core.ledger import MAX_UNITS, AccountKind
from velocimex_cli.engine.core.orders import BUY, FOK, GTC, IOC, SELL
from velocimex_cli.engine.core.risk import RiskLimits
from velocimex_cli.engine.store import open_exchange
from velocimex_cli.wire.errors import ApiError

seed, steps, durable = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
rng = random.Random(seed)
clock = FakeClock()
config = EngineConfig(
    always_open=rng.random() < 0.5,  # else the crypto venue's orders still take the C path
    sandbox_funds={"USDT": Decimal(600_000), "BTC": Decimal(9), "ETH": Decimal(90)},
    default_limits=RiskLimits(
        # Low enough that the stream reaches each limit (the test asserts it does).
        price_band_bps=300, max_order_notional=400_000 * 10**8, max_open_orders=3,
        max_orders_per_second=12,
    ),
)
tmp = tempfile.TemporaryDirectory()
exchange = open_exchange(Path(tmp.name), config, clock) if durable else Exchange(config, clock)
users = ["alice", "bob", "carol", "dave"]
for name in users:
    exchange.ensure_account(name)
exchange.set_risk_limits("dave", {"price_band_pct": None, "max_order_notional": None,
                                  "max_open_orders": None, "max_orders_per_second": None})
exchange.ensure_account("maker-sim", AccountKind.SIMULATED)
exchange.fund("maker-sim", "USDT", Decimal(50_000_000))
exchange.fund("maker-sim", "BTC", Decimal(900))
exchange.ensure_account("whale")
exchange.fund("whale", "USDT", Decimal(MAX_UNITS // 2) / 10**8)
names = users + ["maker-sim", "whale"]
accounts = {name: exchange.ledger.accounts[name] for name in names}
instrument = exchange.instrument("BINANCE", "BTC/USDT")
mid = 6_000_000
out = [str(native_path.place is not None)]
attached = set()  # the listeners attached now
# How many placements of an account a listener follows the C path took (0 on the Python path).
followed_in_c = [0]
if native_path.place is not None:
    import velocimex_cli.engine.core.exchange as exchange_module

    def counted_place(exchange, account, *args):
        order = native_path.place(exchange, account, *args)
        followed = any(
            interests[name].accounts is None or account.name in interests[name].accounts
            for name in attached
        )
        followed_in_c[0] += order is not None and followed
        return order

    exchange_module.native_place = counted_place
# step -> (listener name, Interest to add it with, or None to remove it)
interests = {
    "all": EVERYTHING,
    "alice": Interest(accounts=frozenset({"alice"}), books=False),
    "bob+books": Interest(accounts=frozenset({"bob"}), books=True),
    "sim+whale": Interest(accounts=frozenset({"maker-sim", "whale"}), books=False),
    "trades": Interest(accounts=frozenset(), books=False),
}
schedule = {
    steps // 8: [("alice", True)],
    steps // 6: [("bob+books", True)],
    steps // 4: [("bob+books", False)],
    steps // 3: [("all", True)],
    steps // 2: [("all", False), ("sim+whale", True)],
    2 * steps // 3: [("trades", True)],
    5 * steps // 6: [("alice", False), ("sim+whale", False)],
}
received = {name: [] for name in interests}
listeners = {name: received[name].append for name in interests}

def outcome(order):
    return [order.id, order.status.value, order.filled, order.filled_notional,
            order.reason and order.reason.value, order.resting, order.price, order.updated]

for step in range(steps):
    if rng.random() < 0.05:
        clock.advance(microseconds=rng.choice([1, 500_000, 1_000_001, 86_400_000_000]))
    for listener, attach in schedule.get(step, []):
        if attach:
            exchange.add_listener(listeners[listener], interests[listener])
            attached.add(listener)
        else:
            exchange.remove_listener(listeners[listener])
            attached.discard(listener)
    name = rng.choice(names)
    account = accounts[name]
    roll = rng.random()
    try:
        if roll < 0.22:
            live = [o for o in account.orders.values() if o.is_live]
            if live:
                order = rng.choice(live)
                if rng.random() < 0.7:
                    exchange.cancel_live(account, order)
                    out.append(["cancel", outcome(order)])
                else:
                    out.append(["cancel_order", exchange.cancel_order(name, str(order.id))])
            continue
        side = rng.choice([BUY, SELL])
        lots = rng.choice([1, 3, 10, 50, 200, 1000, 5000, 40000])
        kind = rng.random()
        if kind < 0.12:
            price = None
        elif kind < 0.15:
            price = rng.choice([1, 10**15])
        else:
            offset = rng.randint(-150, 150)
            price = mid + offset if side == BUY else mid - offset
        tif = rng.choice([GTC, GTC, GTC, IOC, IOC, FOK])
        post_only = price is not None and tif is GTC and rng.random() < 0.1
        # (Not for the simulated participant: it keeps no closed orders to replay.)
        replayable = name != "maker-sim" and rng.random() < 0.15
        client_id = f"c{rng.randint(0, 30)}" if replayable else None
        order, created = exchange.place(account, instrument, side, lots, price, tif, post_only,
                                        client_id)
        out.append(["place", created, outcome(order)])
    except ApiError as error:
        out.append(["error", type(error).__name__, str(error)])

def fill(record):
    return [record.trade_id, record.order.id, record.price, record.lots, record.fee,
            record.liquidity, record.timestamp]

state = {
    "hash": exchange.state_hash(),
    "ids": [exchange.next_order_id, exchange.next_trade_id],
    "sequence": exchange.books[instrument.index].sequence,
    "events": {
        name: [[type(e).__name__, dataclasses.asdict(e)] for e in events]
        for name, events in received.items()
    },
    "ticker": json.loads(json.dumps(exchange.ticker("BINANCE", "BTC/USDT"), default=str)),
    "accounts": {
        name: [sorted(a.balances.items()),
               sorted((i, p.quantity, p.cost, p.realized) for i, p in a.positions.items()),
               a.open_orders, [outcome(o) for o in a.orders.values()], [fill(f) for f in a.fills]]
        for name, a in exchange.ledger.accounts.items()
    },
}
out.append(state)
out[0] = [out[0], followed_in_c[0]]
if durable:
    exchange.close()
    reopened = open_exchange(Path(tmp.name), config, clock)
    out.append(["reopened", reopened.state_hash() == state["hash"]])
    reopened.close()
print(json.dumps(out, default=str))
"""


def _run(pure: bool, seed: int, steps: int, durable: bool) -> list:
    return run_script(RUN, [str(seed), str(steps), "1" if durable else "0"], pure, timeout=300)


@pytest.mark.skipif(native_path.place is None, reason="the C engine path is not active")
@pytest.mark.parametrize(("seed", "durable"), [(1, False), (2, True), (3, False)])
def test_the_c_engine_path_ends_every_step_like_the_python_engine(seed: int, durable: bool) -> None:
    native = _run(pure=False, seed=seed, steps=2500, durable=durable)
    python = _run(pure=True, seed=seed, steps=2500, durable=durable)
    assert native[0][0] == "True" and python[0][0] == "False"  # which engine path each run took
    # The C path placed orders of an account a listener follows, building its events.
    assert native[0][1] > 0 and python[0][1] == 0
    steps = [step for step in python[1:] if isinstance(step, list) and step[0] != "reopened"]
    kinds = {step[0] if step[0] != "error" else step[1] for step in steps}
    # The stream reaches the outcomes it is meant to compare.
    assert {"place", "cancel", "cancel_order", "InsufficientBalance"} <= kinds, kinds
    refusals = " ".join(step[2] for step in steps if step[:2] == ["error", "RiskLimitExceeded"])
    for limit in ("price band", "maximum order notional", "open orders", "orders in one second"):
        assert limit in refusals, f"the stream never reached the risk limit {limit!r}"
    assert {step[2][1] for step in steps if step[0] == "place"} >= {
        "open",
        "partially_filled",
        "filled",
        "canceled",
        "rejected",
    }
    # Each listener heard the stream: its accounts' orders and fills, trades, books as asked.
    received = python[-2 if durable else -1]["events"]
    kinds = {name: {event[0] for event in events} for name, events in received.items()}
    assert kinds["all"] == {"OrderEvent", "FillEvent", "TradeEvent", "BookEvent", "TickerEvent"}
    assert kinds["bob+books"] >= {"OrderEvent", "TradeEvent", "BookEvent", "TickerEvent"}
    assert kinds["trades"] >= {"TradeEvent"}
    assert all(kinds[name] >= {"OrderEvent", "TradeEvent"} for name in ("alice", "sim+whale"))
    for index, (a, b) in enumerate(zip(native[1:], python[1:], strict=True)):
        if isinstance(a, dict):
            for name in a["events"]:
                assert a["events"][name] == b["events"][name], f"listener {name}"
        assert a == b, f"step {index}: C {a!r} != Python {b!r}"
    if durable:
        assert native[-1] == ["reopened", True]


@pytest.mark.skipif(native_path.place is None, reason="the C engine path is not active")
def test_the_c_path_runs_under_listeners_that_want_only_its_trades(clock: FakeClock) -> None:
    """A taker meeting makers no listener follows takes the C path: its listeners get its trade
    and, if they follow the taker, its order and fill events in the Python path's order; a
    listener that follows a maker it would meet, or wants book events, sends the command to the
    Python path (None)."""
    exchange = Exchange(EngineConfig(always_open=True), clock)
    for name in ("maker", "taker", "watched"):
        exchange.ensure_account(name)
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    accounts = exchange.ledger.accounts
    exchange.place(accounts["maker"], instrument, SELL, 10, 6_000_000)
    exchange.place(accounts["watched"], instrument, SELL, 10, 6_000_100)
    heard: list[Event] = []
    exchange.add_listener(heard.append, Interest(accounts=frozenset({"watched"}), books=False))
    taker = accounts["taker"]
    assert native_path.place is not None
    order = native_path.place(exchange, taker, instrument, BUY, 4, 6_000_000, IOC, None)
    assert order is not None and order.filled == 4
    assert len(heard) == 1 and isinstance(heard[0], TradeEvent)
    assert heard[0].trade["quantity"] == instrument.quantity_of(4)
    # The order would reach the watched account's ask: the Python path builds its events.
    assert native_path.place(exchange, taker, instrument, BUY, 8, 6_000_100, IOC, None) is None
    exchange.restrict_listener(heard.append, Interest(accounts=frozenset({"taker"}), books=False))
    order = native_path.place(exchange, taker, instrument, BUY, 1, 6_000_000, IOC, "s-1")
    assert order is not None and order.filled == 1
    assert [type(e).__name__ for e in heard[1:]] == [
        "OrderEvent",
        "FillEvent",
        "TradeEvent",
        "OrderEvent",
    ]
    accepted, fill, _trade, filled = heard[1:]
    assert isinstance(accepted, OrderEvent) and isinstance(filled, OrderEvent)
    assert (accepted.account, accepted.event, accepted.order["status"]) == (
        "taker",
        "accepted",
        "open",
    )
    assert (filled.event, filled.order["status"]) == ("filled", "filled")
    assert isinstance(fill, FillEvent)
    assert (fill.account, fill.fill["liquidity"], fill.fill["order_id"]) == (
        "taker",
        "taker",
        str(order.id),
    )
    assert fill.fill["client_order_id"] == filled.order["client_order_id"] == "s-1"
    assert taker.client_ids["s-1"] == order.id
    # A client_order_id of a live order is a replay: the Python path returns the original.
    resting = native_path.place(exchange, taker, instrument, BUY, 1, 5_000_000, GTC, "s-2")
    assert resting is not None and resting.is_live
    assert native_path.place(exchange, taker, instrument, BUY, 1, 5_000_000, GTC, "s-2") is None
    assert exchange.place(taker, instrument, BUY, 1, 5_000_000, GTC, False, "s-2") == (
        resting,
        False,
    )
    del heard[5:]
    exchange.restrict_listener(heard.append, Interest(accounts=frozenset(), books=True))
    assert native_path.place(exchange, taker, instrument, BUY, 1, 6_000_000, IOC, None) is None
    assert len(heard) == 5


@pytest.mark.parametrize("followed", [frozenset({"taker"}), frozenset({"taker", "maker"})])
def test_a_listener_that_wants_no_trades_has_none_built(
    clock: FakeClock, followed: frozenset[str]
) -> None:
    """Interest(trades=False) (a strategy with no on_trade): the command's trades are not
    built, on the C path (the taker followed) and on the Python path (its maker followed too),
    while its order and fill events are; once another listener wants trades, both get them."""
    exchange = Exchange(EngineConfig(always_open=True), clock)
    for name in ("maker", "taker"):
        exchange.ensure_account(name)
    instrument = exchange.instrument("BINANCE", "BTC/USDT")
    accounts = exchange.ledger.accounts
    exchange.place(accounts["maker"], instrument, SELL, 10, 6_000_000)
    heard: list[Event] = []
    exchange.add_listener(heard.append, Interest(accounts=followed, books=False, trades=False))
    exchange.place(accounts["taker"], instrument, BUY, 4, 6_000_000, IOC)
    kinds = [type(e).__name__ for e in heard]
    assert "TradeEvent" not in kinds
    assert kinds.count("FillEvent") == len(followed) and "OrderEvent" in kinds
    also: list[Event] = []
    exchange.add_listener(also.append, Interest(accounts=frozenset(), books=False))
    del heard[:]
    exchange.place(accounts["taker"], instrument, BUY, 3, 6_000_000, IOC)
    trades = [e for e in heard if isinstance(e, TradeEvent)]
    assert len(trades) == 1 and [e for e in also if isinstance(e, TradeEvent)] == trades
    assert trades[0].trade["quantity"] == instrument.quantity_of(3)


NO_LIQUIDITY_RUN = r"""
import dataclasses, json, sqlite3, tempfile
from decimal import Decimal
from pathlib import Path

from tests.conftest import FakeClock
from tests.core_variants import count_native_places
from velocimex_cli.engine.core.exchange import EngineConfig, Interest
from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.orders import BUY, GTC, IOC, SELL
from velocimex_cli.engine.core.risk import RiskLimits
from velocimex_cli.engine.store import open_exchange
from velocimex_cli.wire.errors import ApiError

clock = FakeClock()
config = EngineConfig(always_open=True, default_limits=RiskLimits(max_orders_per_second=3))
tmp = Path(tempfile.mkdtemp())
exchange = open_exchange(tmp, config, clock)
for name in ("taker", "maker"):
    exchange.ensure_account(name)
exchange.ensure_account("sim", AccountKind.SIMULATED)
exchange.fund("sim", "USDT", Decimal(1000))
heard = []
exchange.add_listener(heard.append, Interest(accounts=frozenset({"taker", "sim"}), books=False))
instrument = exchange.instrument("BINANCE", "BTC/USDT")
accounts = exchange.ledger.accounts
taken_in_c = count_native_places()
out = []
# account, side, lots, time in force, client_order_id, seconds to wait before
steps = [
    ("taker", BUY, 5, GTC, "m-1", 0),  # an empty book: no asks, no bids
    ("taker", SELL, 7, IOC, None, 0),
    ("taker", BUY, 10**9, IOC, "m-2", 0),  # far beyond the balance: it locks nothing
    ("taker", SELL, 1, GTC, "m-3", 0),  # the fourth in one second: the risk limit refuses it
    ("sim", BUY, 2, IOC, "s-1", 0),  # a simulated account keeps no closed order
    ("maker", BUY, 3, GTC, None, 2),  # a bid rests (below): a market buy still meets no ask
    ("taker", BUY, 4, IOC, "m-4", 0),
    ("taker", BUY, 10**9, IOC, "m-2", 0),  # a replay: the original order, not created again
]
for name, side, lots, tif, client_id, wait in steps:
    clock.advance(seconds=wait)
    if name == "maker":
        order, _ = exchange.place(accounts["maker"], instrument, BUY, lots, 5_000_000)
        continue
    try:
        order, created = exchange.place(accounts[name], instrument, side, lots, None, tif,
                                        False, client_id)
        out.append(["placed", created, order.id, order.status.value, order.reason.value,
                    order.type.value, order.tif.value, order.price, order.quantity,
                    order.created, order.updated, order.client_id])
    except ApiError as error:
        out.append(["error", type(error).__name__, str(error)])
exchange.close()
db = sqlite3.connect(tmp / "engine.db")
stored = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
          for table in ("orders", "balances", "account_risk")}
print(json.dumps({
    "taken_in_c": taken_in_c[0],
    "out": out,
    "events": [[type(e).__name__, dataclasses.asdict(e)] for e in heard],
    "accounts": {name: [sorted(a.orders), sorted(a.client_ids.items()), a.open_orders,
                        sorted(a.balances.items()), list(a.risk.recent) if a.risk else None]
                 for name, a in accounts.items()},
    "ids": exchange.next_order_id,
    "sequence": exchange.books[instrument.index].sequence,
    "stored": stored,
}, default=str))
"""


@pytest.mark.skipif(native_path.place is None, reason="the C engine path is not active")
def test_a_market_order_with_no_liquidity_is_rejected_in_c_as_in_python() -> None:
    """A market order with no opposite side is the C path's (it was handed back): created and
    rejected with no_liquidity, with the same order, events, account state, risk window and
    stored rows as the Python engine, and a broken risk limit still refused by Python."""
    native = run_script(NO_LIQUIDITY_RUN, [], pure=False)
    python = run_script(NO_LIQUIDITY_RUN, [], pure=True)
    assert python["taken_in_c"] == 0
    # Every placement but the risk refusal and the replay went through C (and the maker's bid).
    assert native["taken_in_c"] == 5 + 1
    outcomes = [step for step in python["out"] if step[0] == "placed"]
    assert {(step[3], step[4]) for step in outcomes} == {("rejected", "no_liquidity")}
    assert [step[1] for step in outcomes] == [True] * 5 + [False]
    assert python["out"][3][:2] == ["error", "RiskLimitExceeded"]
    events = [(kind, e["account"], e["event"]) for kind, e in python["events"]]
    assert events == [("OrderEvent", "taker", "rejected")] * 3 + [
        ("OrderEvent", "sim", "rejected"),
        ("OrderEvent", "taker", "rejected"),
    ]
    assert python["stored"]["orders"], "the rejected orders are stored"
    for key in python.keys() - {"taken_in_c"}:
        assert native[key] == python[key], key
