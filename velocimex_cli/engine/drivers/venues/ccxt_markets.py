"""A venue's spot markets through ccxt's `load_markets`, as `MarketSpec`s: tick, lot, minimums
and fees exactly as the venue states them (through the numbers' shortest text, never binary
float; a venue that states decimal places has its steps as powers of ten)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ccxt.base.decimal_to_precision import DECIMAL_PLACES
from ccxt.base.errors import BaseError

from velocimex_cli.engine.drivers.venues.ccxt_book import dec
from velocimex_cli.engine.drivers.venues.feed import MarketSpec, VenueUnavailable


async def load_markets(exchange: Any, venue: str) -> dict[str, Any]:
    """ccxt's markets of `venue`; VenueUnavailable with ccxt's reason when it cannot be reached."""
    try:
        return dict(await exchange.load_markets())
    except (BaseError, OSError) as exc:
        # ccxt's class says what happened (RequestTimeout, ExchangeNotAvailable, ...)
        raise VenueUnavailable(f"{venue} unreachable: {type(exc).__name__}: {exc}") from None


def spot_market(markets: Mapping[str, Any], symbol: str) -> dict[str, Any] | None:
    """`symbol`'s market when the venue lists it as an active spot market, else None."""
    market = markets.get(symbol)
    if market is None or not market.get("spot") or market.get("active") is False:
        return None
    return dict(market)


def spec_of(market: Mapping[str, Any], precision_mode: int) -> MarketSpec:
    """One ccxt market as the engine's `MarketSpec`."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def step(value: Any) -> Decimal:
        if precision_mode == DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(value))
        return dec(value)

    def optional(value: Any) -> Decimal | None:
        return None if value is None else dec(value)

    return MarketSpec(
        symbol=market["symbol"],
        base=market["base"],
        quote=market["quote"],
        tick_size=step(precision["price"]),
        lot_size=step(precision["amount"]),
        min_quantity=optional((limits.get("amount") or {}).get("min")),
        min_notional=optional((limits.get("cost") or {}).get("min")),
        taker_fee=optional(market.get("taker")),
        maker_fee=optional(market.get("maker")),
    )
