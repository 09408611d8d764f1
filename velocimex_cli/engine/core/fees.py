"""Trading fees: a maker or taker fee is the fill's notional x the fee rate, rounded down to
the ledger unit (the exchange never charges a fraction of a unit more than its rate). Fees are
paid in the instrument's quote asset, to the fee account.

A fee rate is an integer number of `RATE_UNIT`s (10^-8: 0.0001 of a basis point), so a venue's
own rates (0.00075, 0.0026, 0.0004) are exact: the fee is `notional x rate // RATE_SCALE`, which
for a whole number of basis points is exactly `notional x bps // 10_000`. An instrument with
rates of its own (a mirrored venue's market, `Instrument.maker_rate`/`taker_rate`) is charged
those; any other at the exchange-wide rates of the engine's configuration
(`EngineConfig.maker_fee_bps`/`taker_fee_bps`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

RATE_DECIMALS = 8
RATE_SCALE: int = 10**RATE_DECIMALS  # rate units in 1 (100%)
RATE_UNIT = Decimal(1).scaleb(-RATE_DECIMALS)  # the finest rate: 0.00000001
BPS = RATE_SCALE // 10_000  # rate units in one basis point
MAX_RATE = Decimal("0.1")  # no venue charges 10% a trade: a larger rate is a mistake


class FeeRateError(ValueError):
    """A fee rate the engine cannot charge exactly; the message says why."""


def fee(notional: int, rate: int) -> int:
    """The fee in ledger units on `notional` (ledger units) at `rate` rate units."""
    return notional * rate // RATE_SCALE


def lock_rate(maker_rate: int, taker_rate: int) -> int:
    """The fee rate a buy order locks on top of its notional: the higher of the two, since a
    resting order may later fill as maker or (after an amend) as taker."""
    return max(maker_rate, taker_rate)


def rate_of_bps(bps: int) -> int:
    """Rate units of a whole number of basis points."""
    return bps * BPS


def rate_of(fraction: Decimal) -> int:
    """Rate units of a fee stated as a fraction (0.00075 = 7.5 bps); FeeRateError when it is
    negative, above MAX_RATE, or finer than RATE_UNIT (the engine would have to round it)."""
    try:
        if not fraction.is_finite():
            raise FeeRateError(f"{fraction} is not a number")
        if fraction < 0:
            raise FeeRateError(f"{fraction} is below 0 (rebates are not supported)")
        if fraction > MAX_RATE:
            raise FeeRateError(f"{fraction} is above {MAX_RATE} (10%); write 0.001 for 0.1%")
        units = fraction * RATE_SCALE
        if units != units.to_integral_value():
            raise FeeRateError(f"{fraction} is finer than {RATE_UNIT:f}, the finest rate charged")
    except InvalidOperation:
        raise FeeRateError(f"{fraction} is not a number") from None
    return int(units)


def fraction_of(rate: int) -> Decimal:
    """A rate as the fraction the API shows (`maker_fee`/`taker_fee`): 75_000 -> 0.00075."""
    return Decimal(rate) / RATE_SCALE
