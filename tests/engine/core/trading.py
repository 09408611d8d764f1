"""Seeded trading on a bare exchange: users' random orders around a seeded simulator's market,
shared by the durability and pure-Python fallback tests."""

from __future__ import annotations

import contextlib
import random
from decimal import Decimal

from tests.conftest import FakeClock
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.engine.drivers.simulator import MarketSimulator
from velocimex_cli.wire.errors import ApiError

USERS = ("alice", "bob", "carol")


def random_user_orders(exchange: Exchange, rng: random.Random, count: int) -> None:
    """Random user orders around the simulated market; rejections are part of the mix."""
    for _ in range(count):
        instrument = rng.choice(exchange.catalogue.instruments)
        account = rng.choice(USERS)
        book = exchange.order_book(instrument.exchange, instrument.symbol, depth=1)
        best = book["bids"][0]["price"] if book["bids"] else instrument.reference_price
        shift = Decimal(rng.randint(-20, 20)).scaleb(-4)
        price = (best * (1 + shift)).quantize(instrument.tick_size)
        request = {
            "exchange": instrument.exchange,
            "symbol": instrument.symbol,
            "side": rng.choice(["buy", "sell"]),
            "quantity": instrument.min_quantity * rng.randint(1, 5),
            "price": price,
            "time_in_force": rng.choice(["gtc", "gtc", "gtc", "ioc"]),
            "client_order_id": f"c{rng.randint(0, 10**9)}",
        }
        with contextlib.suppress(ApiError):
            exchange.place_order(account, request)
        if rng.random() < 0.2:
            live = exchange.list_orders(account, limit=50)
            if live:
                exchange.cancel_order(account, rng.choice(live)["order_id"])


def trade_a_while(
    exchange: Exchange, clock: FakeClock, seed: int, steps: int, orders_seed: int | None = None
) -> MarketSimulator:
    """Users and a seeded simulator trade for `steps` simulator steps; returns the simulator."""
    for user in USERS:
        exchange.ensure_account(user)
    simulator = MarketSimulator(exchange, seed=seed)
    simulator.seed_books()
    rng = random.Random(seed if orders_seed is None else orders_seed)
    for _ in range(steps):
        clock.advance(seconds=0.2)
        simulator.step()
        random_user_orders(exchange, rng, 5)
    return simulator
