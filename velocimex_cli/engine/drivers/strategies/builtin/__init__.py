"""The strategies every engine offers, by id."""

from __future__ import annotations

from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.builtin.arbitrage import Arbitrage
from velocimex_cli.engine.drivers.strategies.builtin.market_maker import MarketMaker
from velocimex_cli.engine.drivers.strategies.builtin.sma_cross import SmaCross
from velocimex_cli.engine.drivers.strategies.builtin.twap import Twap

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    cls.id: cls for cls in (Twap, MarketMaker, Arbitrage, SmaCross)
}

__all__ = ["BUILTIN_STRATEGIES", "Arbitrage", "MarketMaker", "SmaCross", "Twap"]
