"""The hooks the ccxt source puts into ccxt to make its work cheaper give ccxt's own results."""

from __future__ import annotations

from typing import Any

import pytest
from ccxt.base.exchange import Exchange
from hypothesis import given, settings
from hypothesis import strategies as st

from velocimex_cli.engine.drivers.venues.ccxt_venues import exchange_class, iso8601_by_second


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 8_640_000_000_000_000), min_size=1, max_size=20))
def test_iso8601_by_second_is_ccxts_text(timestamps: list[int]) -> None:
    by_second = iso8601_by_second(Exchange.iso8601)
    # the same second twice, then the next: the second's text is made once and reused
    for timestamp in sorted(timestamps) + [t + 1 for t in timestamps] + timestamps:
        assert by_second(timestamp) == Exchange.iso8601(timestamp)


@pytest.mark.parametrize(
    "value",
    [None, -1, 8_640_000_000_000_001, 1.5e12, float("nan"), "1795000000123", "12a", True, ""],
)
def test_iso8601_by_second_hands_what_is_not_a_plain_time_to_ccxt(value: Any) -> None:
    by_second = iso8601_by_second(Exchange.iso8601)
    assert by_second(value) == Exchange.iso8601(value)


def test_the_mirrored_exchange_uses_it() -> None:
    binance = exchange_class("binance")({})
    assert binance.iso8601(1_795_000_000_123) == "2026-11-18T11:06:40.123Z"
    assert binance.iso8601(1_795_000_000_123) == Exchange.iso8601(1_795_000_000_123)


class _Client:
    """What ccxt's Binance handlers use of a connection: its url, subscriptions, and what they
    resolve or reject on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.subscriptions: dict[str, Any] = {"orderbook::BTC/USDT": True}
        self.resolved: list[tuple[str, int]] = []
        self.rejected: list[str] = []

    def resolve(self, result: Any, message_hash: str) -> None:
        self.resolved.append((message_hash, result["nonce"]))

    def reject(self, error: Any, message_hash: str | None = None) -> None:
        self.rejected.append(f"{message_hash}: {type(error).__name__}")


def _binance(cls: type[Any]) -> Any:
    exchange = cls({})
    exchange.vmx_probes, exchange.vmx_reasons, exchange.vmx_symbols = {}, {}, {}
    exchange.set_markets(
        [
            {
                "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
                "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True,
                "active": True, "precision": {}, "limits": {}, "info": {},
            }
        ]
    )  # fmt: skip
    book = exchange.order_book({"bids": [[100.0, 1.0]], "asks": [[100.5, 1.0]]}, 5000)
    book["nonce"], book["timestamp"] = 10, 1_795_000_000_000
    exchange.orderbooks["BTC/USDT"] = book
    return exchange


def _diff(first: int, last: int, bid: str, size: str, **extra: Any) -> dict[str, Any]:
    return {
        "e": "depthUpdate", "E": 1_795_000_000_000 + last, "s": "BTCUSDT", "U": first,
        "u": last, "b": [[bid, size]], "a": [["100.50", "0.25"]], **extra,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("url", "last", "error"),
    [
        # a spot url as ccxt tells them; a gap: ccxt rejects the book's future
        ("ws://127.0.0.1:9/stream", _diff(25, 26, "99.50", "5"), "ChecksumError"),
        # a url ccxt takes for a swap's (the fakes' `/ws`); a level that is no number
        ("ws://127.0.0.1:9/ws", _diff(19, 19, "", "5"), "TypeError"),
        ("ws://127.0.0.1:9/ws", _diff(19, 19, "99.50", "5", pu=17), "ChecksumError"),  # futures
    ],
)
def test_binances_diffs_taken_past_ccxts_dispatch_leave_ccxts_book_and_futures(
    url: str, last: dict[str, Any], error: str
) -> None:
    import ccxt.pro

    messages: list[Any] = [
        _diff(11, 12, "99.90", "2"),  # plain diffs: straight to the book, as ccxt would
        _diff(13, 13, "100.00", "0"),
        {"stream": "btcusdt@depth", "data": _diff(14, 15, "99.80", "3")},  # a combined stream's
        _diff(16, 16, "99.70", "1", id=None),  # a key ccxt reads as a wrapper: through ccxt
        _diff(17, 18, "99.60", "4"),
        last,  # one ccxt refuses (through ccxt: it drops the book it cannot trust)
    ]
    runs = []
    for cls in (exchange_class("binance"), ccxt.pro.binance):
        exchange, client = _binance(cls), _Client(url)
        for message in messages[:-1]:
            exchange.handle_message(client, message)
        book = exchange.orderbooks["BTC/USDT"]
        levels = ([list(b) for b in book["bids"]], [list(a) for a in book["asks"]])
        state = (levels, book["nonce"], book["timestamp"], book["datetime"])
        exchange.handle_message(client, messages[-1])
        runs.append((state, client.resolved, client.rejected, exchange.orderbooks))
    mirrored, plain = runs
    assert mirrored == plain
    state, resolved, rejected, books = mirrored
    assert state[0][0] == [[99.9, 2.0], [99.8, 3.0], [99.7, 1.0], [99.6, 4.0]]
    assert state[1:3] == (18, 1_795_000_000_018)
    assert resolved == [("orderbook::BTC/USDT", n) for n in (12, 13, 15, 16, 18)]
    assert rejected == [f"orderbook::BTC/USDT: {error}"] and books == {}
