"""Trading fees: a maker or taker fee is the fill's notional x basis points, rounded down to
the ledger unit (the exchange never charges a fraction of a unit more than its rate). Fees are
paid in the instrument's quote asset, to the fee account."""

from __future__ import annotations


def fee(notional: int, bps: int) -> int:
    """The fee in ledger units on `notional` (ledger units) at `bps` basis points."""
    return notional * bps // 10_000


def lock_bps(maker_bps: int, taker_bps: int) -> int:
    """The fee rate a buy order locks on top of its notional: the higher of the two, since a
    resting order may later fill as maker or (after an amend) as taker."""
    return max(maker_bps, taker_bps)
