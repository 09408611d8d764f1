"""Resting liquidity a simulated account cannot pay for is refused, naming the asset an order of
its side locks (a bid the quote, an ask the base) and the account, and nothing rests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import FakeClock
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.ledger import AccountKind
from velocimex_cli.engine.core.liquidity import Liquidity
from velocimex_cli.engine.core.orders import BUY, SELL
from velocimex_cli.wire.errors import InsufficientBalance


@pytest.mark.parametrize(("side", "asset"), [(BUY, "USDT"), (SELL, "BTC")])
def test_liquidity_beyond_the_balance_names_the_asset_its_side_locks(side: int, asset: str) -> None:
    exchange = Exchange(EngineConfig(), FakeClock())
    exchange.ensure_account("mirror", AccountKind.SIMULATED)
    exchange.fund("mirror", "USDT", Decimal("1"))
    exchange.fund("mirror", "BTC", Decimal("0.00001"))
    instrument = exchange.catalogue.find("BINANCE", "BTC/USDT")
    account = exchange.account("mirror")
    liquidity = Liquidity(exchange, account, instrument)
    assert exchange.book(instrument).best_bid() is None  # nothing to cross: the orders rest
    ticks = 6_000_000  # 60000.00
    with pytest.raises(InsufficientBalance) as refused:
        liquidity.set_level(side, ticks, 10**6, 0)  # ten BTC
    assert refused.value.message == f"Not enough {asset} for the liquidity of mirror"
    assert refused.value.details == {"asset": asset, "account": "mirror"}
    assert liquidity.orders_at(side, ticks) == []
