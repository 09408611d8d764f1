"""The settings an Exchange is built with (seed, fees, market protection, sandbox funds, the
default risk limits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from velocimex_cli.engine.core.instruments import Catalogue
from velocimex_cli.engine.core.risk import RiskLimits

DEFAULT_SANDBOX_FUNDS: dict[str, Decimal] = {
    "USD": Decimal("100000"),
    "USDT": Decimal("100000"),
    "BTC": Decimal("2"),
    "ETH": Decimal("20"),
}


@dataclass(slots=True)
class EngineConfig:
    seed: int = 42
    always_open: bool = False
    maker_fee_bps: int = 1
    taker_fee_bps: int = 2
    # A market buy may pay at most best ask x (1 + bps/10000); a sell at least best bid x (1 - ...).
    market_protection_bps: int = 500
    sandbox_funds: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_SANDBOX_FUNDS))
    # The pre-trade limits of a user account until it changes them (see core/risk.py).
    default_limits: RiskLimits = field(default_factory=RiskLimits)
    # The instruments traded (None: the simulated catalogue); a node mirroring venues builds
    # its own (drivers/venues/markets.py). Shared by every Exchange built from this config,
    # so a store's reload sees the instruments added after start.
    catalogue: Catalogue | None = None
