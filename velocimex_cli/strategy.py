"""The public Strategy API: import what a user strategy needs from here.

    from decimal import Decimal
    from velocimex_cli.strategy import Param, Strategy

See docs/strategies.md for the hooks, the context and a complete example.
"""

from __future__ import annotations

from velocimex_cli.engine.drivers.strategies.base import Strategy, StrategyDefinitionError
from velocimex_cli.engine.drivers.strategies.context import (
    BalanceInfo,
    BookLevel,
    BookSnapshot,
    BookTop,
    FeeRates,
    FillInfo,
    InstrumentSpec,
    OrderInfo,
    PositionInfo,
    StrategyContext,
    TradeTick,
)
from velocimex_cli.engine.drivers.strategies.params import REQUIRED, Param, ParamValues

__all__ = [
    "REQUIRED",
    "BalanceInfo",
    "BookLevel",
    "BookSnapshot",
    "BookTop",
    "FeeRates",
    "FillInfo",
    "InstrumentSpec",
    "OrderInfo",
    "Param",
    "ParamValues",
    "PositionInfo",
    "Strategy",
    "StrategyContext",
    "StrategyDefinitionError",
    "TradeTick",
]
