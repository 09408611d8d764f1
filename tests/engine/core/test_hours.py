"""Session hours with a fixed clock: equities 09:30-16:00 New York on weekdays, crypto 24/7."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.conftest import FakeClock
from velocimex_cli.engine.core.exchange import Exchange
from velocimex_cli.wire.errors import MarketClosed

AAPL = {"exchange": "NASDAQ", "symbol": "AAPL", "side": "buy", "quantity": 1, "price": "100.00"}
BTC = {"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy", "quantity": "0.001",
       "price": "100.00"}  # fmt: skip


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 11, 24, 14, 30, tzinfo=UTC), True),  # Tue 09:30 EST, the open
        (datetime(2026, 11, 24, 14, 29, 59, tzinfo=UTC), False),  # a second before
        (datetime(2026, 11, 24, 20, 59, 59, tzinfo=UTC), True),  # 15:59:59 EST
        (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), False),  # 16:00, the close
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 11, 29, 15, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 7, 7, 13, 30, tzinfo=UTC), True),  # 09:30 EDT in summer
        (datetime(2026, 7, 7, 13, 29, tzinfo=UTC), False),
    ],
)
def test_equity_session_hours(
    make_exchange: Callable[..., Exchange], clock: FakeClock, moment: datetime, open_: bool
) -> None:
    clock.now = moment
    exchange = make_exchange()
    statuses = {m["exchange"]: m["status"] for m in exchange.market_status()}
    assert statuses["NASDAQ"] == statuses["NYSE"] == ("open" if open_ else "closed")
    assert statuses["BINANCE"] == "open"
    if open_:
        placed, _ = exchange.place_order("alice", AAPL)
        assert placed["status"] == "open"
    else:
        before = exchange.state_hash()
        with pytest.raises(MarketClosed) as caught:
            exchange.place_order("alice", AAPL)
        assert caught.value.details["exchange"] == "NASDAQ"
        assert caught.value.to_body()["error"]["code"] == "MARKET_CLOSED"
        assert exchange.state_hash() == before
    # Crypto trades around the clock.
    assert exchange.place_order("alice", BTC)[0]["status"] == "open"


def test_next_open_after_friday_close_is_monday(
    make_exchange: Callable[..., Exchange], clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # Friday 17:00 EST
    exchange = make_exchange()
    with pytest.raises(MarketClosed) as caught:
        exchange.place_order("alice", AAPL)
    assert caught.value.details["next_open"] == "2026-11-30T14:30:00.000000Z"


def test_always_open_option(make_exchange: Callable[..., Exchange], clock: FakeClock) -> None:
    clock.now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # Sunday night
    exchange = make_exchange(always_open=True)
    assert {m["status"] for m in exchange.market_status()} == {"open"}
    assert exchange.place_order("alice", AAPL)[0]["status"] == "open"
