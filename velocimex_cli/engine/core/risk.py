"""Pre-trade risk limits of an account, checked by the engine before an order is placed.

Four limits, each on by default for user accounts and each switched off with None:

- `price_band_pct`: a limit order priced more than this percentage through the mid (a buy above
  mid x (1 + band), a sell below mid x (1 - band)) is refused; no check while either side of
  the book is empty (there is no mid).
- `max_order_notional`: price x quantity in the quote asset (a market order at the best opposite
  price) may not exceed it.
- `max_open_orders`: an order that could rest (GTC) is refused while the account already has
  this many open orders.
- `max_orders_per_second`: at most this many orders accepted in any sliding second of engine
  time.

Everything is integer arithmetic on ticks, lots and ledger units; the time comes from the
caller (the engine's injected clock). A breach raises `RiskLimitExceeded` naming the limit, its
setting and the order's value.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from velocimex_cli.engine.core.instruments import LEDGER_SCALE, Instrument
from velocimex_cli.wire.errors import InvalidParameter, RiskLimitExceeded
from velocimex_cli.wire.numbers import parse_decimal

SECOND_MICROS = 1_000_000
BPS_PER_PCT = 100
MAX_PRICE_BAND_PCT = Decimal(1000)
MAX_NOTIONAL = Decimal(10) ** 12
MAX_COUNT = 1_000_000

LIMIT_NAMES = ("price_band_pct", "max_order_notional", "max_open_orders", "max_orders_per_second")
HOW_TO_CHANGE = "see `vmx account limits`; change one with `vmx account limits set NAME VALUE`"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """One account's limits, in the engine's integers: basis points and ledger units."""

    price_band_bps: int | None = 10 * BPS_PER_PCT
    max_order_notional: int | None = 1_000_000 * LEDGER_SCALE
    max_open_orders: int | None = 1000
    max_orders_per_second: int | None = 100

    @classmethod
    def unlimited(cls) -> RiskLimits:
        return cls(None, None, None, None)

    # -------------------------------------------------------------- wire form
    def to_wire(self) -> dict[str, Any]:
        return {
            "price_band_pct": None
            if self.price_band_bps is None
            else _plain(Decimal(self.price_band_bps) / BPS_PER_PCT),
            "max_order_notional": None
            if self.max_order_notional is None
            else _plain(Decimal(self.max_order_notional) / LEDGER_SCALE),
            "max_open_orders": self.max_open_orders,
            "max_orders_per_second": self.max_orders_per_second,
        }

    def to_json(self) -> list[int | None]:
        """Compact form for the store."""
        return [
            self.price_band_bps,
            self.max_order_notional,
            self.max_open_orders,
            self.max_orders_per_second,
        ]

    @classmethod
    def from_json(cls, values: list[int | None]) -> RiskLimits:
        return cls(*values)

    def updated(self, changes: dict[str, Any]) -> RiskLimits:
        """These limits with the named ones changed (wire values; null switches one off)."""
        if not isinstance(changes, dict) or not changes:
            raise InvalidParameter(
                "body", changes, f"name at least one limit to change: {', '.join(LIMIT_NAMES)}"
            )
        values: dict[str, int | None] = {}
        for name, raw in changes.items():
            if name not in LIMIT_NAMES:
                raise InvalidParameter(
                    str(name), raw, f"Unknown limit {name!r}; limits: {', '.join(LIMIT_NAMES)}"
                )
            if raw is None:
                values[_FIELD[name]] = None
                continue
            number = parse_decimal(raw) if not isinstance(raw, bool) else None
            if name == "price_band_pct":
                values["price_band_bps"] = _bounded(
                    name, raw, number, MAX_PRICE_BAND_PCT, BPS_PER_PCT, "a multiple of 0.01"
                )
            elif name == "max_order_notional":
                values["max_order_notional"] = _bounded(
                    name, raw, number, MAX_NOTIONAL, LEDGER_SCALE, "a multiple of 0.00000001"
                )
            else:
                values[name] = _bounded(name, raw, number, Decimal(MAX_COUNT), 1, "a whole number")
        return replace(self, **values)


_FIELD = {
    "price_band_pct": "price_band_bps",
    "max_order_notional": "max_order_notional",
    "max_open_orders": "max_open_orders",
    "max_orders_per_second": "max_orders_per_second",
}


def _bounded(
    name: str, raw: Any, number: Decimal | None, high: Decimal, scale: int, step: str
) -> int:
    rule = f"{name} must be a number above 0 and at most {high} ({step}), or null for no limit"
    if number is None or not number > 0 or number > high:
        raise InvalidParameter(name, raw, rule)
    scaled = number * scale
    if scaled != scaled.to_integral_value():
        raise InvalidParameter(name, raw, rule)
    return int(scaled)


def _plain(value: Decimal) -> Decimal:
    """Trailing zeros trimmed, never in exponent form (10, not 1E+1)."""
    text = format(value.normalize(), "f")
    return Decimal(text)


@dataclass(slots=True)
class AccountRisk:
    """An account's limits and what they need to remember: recent order times, open orders,
    and the dead-man switch's trigger time (engine microseconds, None when disarmed)."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    recent: deque[int] = field(default_factory=deque)
    cancel_at: int | None = None
    cancel_timeout: int = 0  # seconds, as last armed (for the answer and the docs)


def check(
    risk: AccountRisk,
    instrument: Instrument,
    bid: int | None,
    ask: int | None,
    side_is_buy: bool,
    ticks: int | None,
    lots: int,
    may_rest: bool,
    open_orders: int,
    now: int,
) -> None:
    """Raise RiskLimitExceeded if the order breaks one of the account's limits.

    `ticks` is the limit price (None for a market order), `bid`/`ask` the book's best prices,
    `now` engine microseconds. Changes nothing: the caller records an accepted order with
    `record`.
    """
    limits = risk.limits
    band = limits.price_band_bps
    if band is not None and ticks is not None and bid is not None and ask is not None:
        # Through the mid by more than the band: compare 2 x price x 10000 with mid x 2 x (...).
        mid_x2 = bid + ask
        if side_is_buy:
            breach = ticks * 2 * 10_000 > mid_x2 * (10_000 + band)
        else:
            breach = ticks * 2 * 10_000 < mid_x2 * (10_000 - band)
        if breach:
            mid = instrument.price_of(mid_x2) / 2
            price = instrument.price_of(ticks)
            away = (abs(price - mid) * 100 / mid).quantize(Decimal("0.01"))
            where = "above" if side_is_buy else "below"
            raise RiskLimitExceeded(
                f"price {price} is {away}% {where} the mid {_plain(mid)}, beyond the price band "
                f"of {_plain(Decimal(band) / BPS_PER_PCT)}%; {HOW_TO_CHANGE}",
                {
                    "limit": "price_band_pct",
                    "maximum": _plain(Decimal(band) / BPS_PER_PCT),
                    "value": away,
                    "parameter": "price",
                    "mid": _plain(mid),
                },
            )
    cap = limits.max_order_notional
    if cap is not None:
        reference = ticks if ticks is not None else (ask if side_is_buy else bid)
        if reference is not None:
            notional = reference * lots * instrument.notional_units
            if notional > cap:
                value = _plain(Decimal(notional) / LEDGER_SCALE)
                maximum = _plain(Decimal(cap) / LEDGER_SCALE)
                raise RiskLimitExceeded(
                    f"the order's notional {value} {instrument.quote} is above the maximum "
                    f"order notional {maximum}; {HOW_TO_CHANGE}",
                    {
                        "limit": "max_order_notional",
                        "maximum": maximum,
                        "value": value,
                        "parameter": "quantity",
                    },
                )
    most = limits.max_open_orders
    if most is not None and may_rest and open_orders >= most:
        raise RiskLimitExceeded(
            f"the account already has {open_orders} open orders, the maximum; cancel some "
            f"first or {HOW_TO_CHANGE}",
            {"limit": "max_open_orders", "maximum": most, "value": open_orders + 1},
        )
    rate = limits.max_orders_per_second
    if rate is not None:
        recent = risk.recent
        horizon = now - SECOND_MICROS
        while recent and recent[0] <= horizon:
            recent.popleft()
        if len(recent) >= rate:
            raise RiskLimitExceeded(
                f"more than {rate} orders in one second; slow down and send it again, "
                f"or {HOW_TO_CHANGE}",
                {"limit": "max_orders_per_second", "maximum": rate, "value": len(recent) + 1},
            )


def record(risk: AccountRisk, now: int) -> None:
    """Count an accepted order in the per-second window."""
    if risk.limits.max_orders_per_second is not None:
        risk.recent.append(now)
