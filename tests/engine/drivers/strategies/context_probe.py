"""A strategy that calls every context operation, right and wrong, and logs what it saw.

Uploaded as a user strategy (its text) for a live deployment, loaded in-process for the
backtest host: test_context_differential.py compares the two logs line by line. Each line is
JSON: [where, operation, arguments, outcome], the outcome either ["ok", value] or ["raised",
class, code, message, details], every value in a canonical form naming its type. It imports
only what a confined worker may.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from velocimex_cli.strategy import Strategy
from velocimex_cli.wire.errors import ApiError


def canon(value: Any) -> Any:
    """`value` as JSON that keeps its type: what a strategy could tell apart."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return ["Decimal", repr(Decimal(value))]
    if isinstance(value, datetime):
        return ["datetime", value.isoformat(), str(value.tzinfo)]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return [type(value).__name__, {k: canon(v) for k, v in value._asdict().items()}]
    if dataclasses.is_dataclass(value):
        fields = {f.name: canon(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return [type(value).__name__, fields]
    if isinstance(value, list | tuple):
        return [type(value).__name__, [canon(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", {str(k): canon(v) for k, v in sorted(value.items())}]
    return [type(value).__name__, repr(value)]


def outcome(call: Any) -> Any:
    try:
        return ["ok", canon(call())]
    except ApiError as exc:
        return ["raised", type(exc).__name__, str(exc.code), exc.message, canon(exc.details)]
    except TypeError as exc:
        return ["raised", "TypeError", str(exc)]


class Probe(Strategy):
    id = "context-probe"

    def record(self, where: str, operation: str, arguments: Any, result: Any) -> None:
        shown = repr(arguments)
        shown = shown if len(shown) <= 100 else shown[:100] + "..."
        text = json.dumps([where, operation, shown, result])
        if len(text) > 1900:  # a log line holds 2000 characters: the outcome's digest instead
            digest = hashlib.sha256(json.dumps(result).encode()).hexdigest()
            text = json.dumps([where, operation, shown, [result[0], "sha256", digest]])
        self.ctx.log(text)

    def attempt(self, where: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call ctx.<operation>(*args, **kwargs), log the outcome, return the value (or
        None if it raised)."""
        found: list[Any] = []

        def call() -> Any:
            value = getattr(self.ctx, operation)(*args, **kwargs)
            found.append(value)
            return value

        self.record(where, operation, [args, kwargs], outcome(call))
        return found[0] if found else None

    def on_start(self) -> None:
        ctx, do = self.ctx, self.attempt
        spec = ctx.instrument
        self.record("on_start", "instrument", [], ["ok", canon(spec)])
        do("on_start", "instrument_for", "BINANCE", "ETH/USDT")
        do("on_start", "instrument_for", "BINANCE", "NOPE/USDT")
        do("on_start", "instrument_for", "NOWHERE", "BTC/USDT")
        do("on_start", "instrument_for", "BINANCE", 42)
        do("on_start", "subscribe", "BINANCE", "ETH/USDT")
        do("on_start", "subscribe", "BINANCE", "NOPE/USDT")
        do("on_start", "now")
        do("on_start", "set_timer", "next", 1)
        do("on_start", "set_timer", "bad", 0)
        do("on_start", "set_timer", "bad", "soon")
        do("on_start", "set_timer", "bad", 10**30)
        do("on_start", "set_timer", "once", timedelta(milliseconds=1500), repeat=False)
        do("on_start", "cancel_timer", "once")
        do("on_start", "cancel_timer", "never-set")
        do("on_start", "fee_rates")
        do("on_start", "fee_rates", "COINBASE", "BTC/USD")
        do("on_start", "fee_rates", "BINANCE")
        do("on_start", "balances")
        do("on_start", "balance", "usdt")
        do("on_start", "balance", "ZZZ")
        do("on_start", "balance", 5)
        do("on_start", "best_bid")
        do("on_start", "best_ask")
        do("on_start", "mid")
        do("on_start", "mid", "BINANCE", "ETH/USDT", exclude_own=True)
        do("on_start", "best_bid", "BINANCE")
        do("on_start", "best_ask", symbol="BTC/USDT")
        do("on_start", "book", depth=3)
        do("on_start", "book", depth=0)
        do("on_start", "book", depth=True)
        do("on_start", "book", "BINANCE", "NOPE/USDT", 2)
        do("on_start", "book", 1, 2, 3, 4, 5)
        do("on_start", "position")
        do("on_start", "position", "BINANCE", "ETH/USDT")
        do("on_start", "open_orders")
        do("on_start", "open_orders", "BINANCE", None)
        bid, ask = ctx.best_bid(), ctx.best_ask()
        tick = spec.tick_size
        low = bid - 20 * tick
        # Orders: one that rests, then every refusal the order entry has.
        rests = do("on_start", "place_order", "buy", Decimal("0.001"), low)
        do("on_start", "place_order", "up", Decimal("0.001"), low)
        do("on_start", "place_order", "buy", "lots", low)
        do("on_start", "place_order", "buy", Decimal(0), low)
        do("on_start", "place_order", "buy", Decimal("0.0000001"), low)
        do("on_start", "place_order", "buy", Decimal("0.001"), low + tick / 2)
        do("on_start", "place_order", "buy", Decimal("0.001"), low, time_in_force="day")
        do("on_start", "place_order", "buy", Decimal("0.001"), None, time_in_force="gtc")
        do("on_start", "place_order", "buy", Decimal("1000"), low)  # InsufficientBalance
        do("on_start", "place_order", "sell", Decimal("1000"), ask + tick)
        do("on_start", "place_order", "buy", Decimal("0.001"), spec.round_price(bid / 2))
        do("on_start", "place_order", "buy", Decimal("0.001"), ask, post_only=True)
        do("on_start", "buy", Decimal("0.001"), spec.round_price(ask * Decimal("1.5")))
        do("on_start", "place_order", "buy", 1, 100, exchange="NASDAQ", symbol="AAPL")
        do("on_start", "place_order", "buy", Decimal("1." + "1" * 300), low)
        do("on_start", "place_order", "buy", Decimal("0.001"), low, symbol="BTC/USDT")
        do("on_start", "place_order", "buy", Decimal("0.001"), low, colour="red")
        if rests is not None:
            do("on_start", "cancel", rests.order_id)
            do("on_start", "cancel", rests.order_id)  # OrderNotOpen
        do("on_start", "cancel", "999999")
        do("on_start", "cancel", "not-an-id")
        do("on_start", "cancel", 7)
        do("on_start", "buy", Decimal("0.002"), low)
        do("on_start", "sell", Decimal("0.002"), ask + 20 * tick)
        do("on_start", "open_orders", "BINANCE", "BTC/USDT")
        do("on_start", "book", exclude_own=True, depth=2)
        do("on_start", "best_bid", exclude_own=True)
        do("on_start", "cancel_all", "BINANCE", "ETH/USDT")
        do("on_start", "cancel_all")
        do("on_start", "cancel_all", "BINANCE")
        do("on_start", "buy", Decimal("0.003"))  # a market order: fills at once
        do("on_start", "sell", Decimal("0.001"), None, time_in_force="fok")
        do("on_start", "position")
        do("on_start", "log", "hello")
        do("on_start", "log", "x" * 2500, "warning")
        do("on_start", "log", "x", "loud")
        do("on_start", "log", ["not", "text"])
        self.beat = 0

    def on_order(self, order: Any) -> None:
        self.record("on_order", "-", [], ["ok", canon(order)])

    def on_fill(self, fill: Any) -> None:
        self.record("on_fill", "-", [], ["ok", canon(fill)])
        self.attempt("on_fill", "position")

    def on_timer(self, name: str) -> None:
        self.beat += 1
        where = f"on_timer {name} {self.beat}"
        if self.beat == 1:
            self.attempt(where, "now")
            self.attempt(where, "open_orders")
            self.attempt(where, "balance", "BTC")
            bid = self.ctx.best_bid()
            self.attempt(where, "buy", Decimal("0.001"), bid)  # joins the bid: takers fill it
        elif self.beat == 5:
            self.attempt(where, "position")
            self.attempt(where, "cancel_all")
            self.attempt(where, "stop", "probe done")
            self.attempt(where, "log", "after stop")
