"""A deployment's own accounting (orders, fills, position, PnL, fees) from its own fills.

Exact: positions are the ledger's integer `Position`, fees and volume Decimals. The account's
own position mixes manual orders and every deployment; this one is the deployment's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, cast

from velocimex_cli.engine.core.instruments import LEDGER_SCALE
from velocimex_cli.engine.core.ledger import Position, units_to_decimal
from velocimex_cli.engine.drivers.strategies.context import PositionInfo

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.core.instruments import Instrument

ZERO = Decimal(0)


@dataclass(slots=True)
class _Held:
    instrument: Instrument
    position: Position
    fees: int = 0  # quote ledger units
    info: PositionInfo | None = None  # what `position` answers until the next fill


class Tally:
    """A deployment's own accounting from its own fills, exact (integer ledger units)."""

    __slots__ = ("_flat", "_held", "fees", "fills", "orders", "rejected", "volume")

    def __init__(self) -> None:
        self.orders = 0
        self.rejected = 0
        self.fills = 0
        self.volume: dict[str, Decimal] = {}  # quote asset -> traded notional
        self.fees: dict[str, Decimal] = {}  # asset -> fees paid
        self._held: dict[int, _Held] = {}
        self._flat: dict[int, PositionInfo] = {}  # an instrument never filled: its zero position

    def add_fill(self, instrument: Instrument, fill: Mapping[str, Any]) -> None:
        """Account one of the deployment's fills, given as the wire's Fill dict (what a
        FillEvent carries and `fill_wire` builds)."""
        price, quantity, fee = fill["price"], fill["quantity"], fill["fee"]
        ticks = instrument.ticks_of(price)
        lots = instrument.lots_of(quantity)
        if ticks is None or lots is None:  # pragma: no cover - the engine fills on its grid
            raise ValueError(f"fill off the instrument's grid: {fill}")
        held = self._held.get(instrument.index)
        if held is None:
            held = self._held[instrument.index] = _Held(instrument, Position())
        held.position.apply(
            lots if fill["side"] == "buy" else -lots, ticks * lots * instrument.notional_units
        )
        held.fees += int(fee * LEDGER_SCALE)
        held.info = None
        self.fills += 1
        fees, asset = self.fees, fill["fee_asset"]
        fees[asset] = fees.get(asset, ZERO) + fee
        volume, quote = self.volume, instrument.quote
        volume[quote] = volume.get(quote, ZERO) + price * quantity

    def position(self, instrument: Instrument) -> PositionInfo:
        """The deployment's position in `instrument`: worked out once after each of its fills
        (a strategy may ask on every tick; PositionInfo is immutable, so it is shared)."""
        held = self._held.get(instrument.index)
        if held is None:
            flat = self._flat.get(instrument.index)
            if flat is None:
                zero = units_to_decimal(0)
                flat = self._flat[instrument.index] = PositionInfo(
                    instrument.venue.name, instrument.symbol, instrument.quantity_of(0), None,
                    zero, zero,
                )  # fmt: skip
            return flat
        if held.info is None:
            held.info = self._worked_out(instrument, held)
        return held.info

    @staticmethod
    def _worked_out(instrument: Instrument, held: _Held) -> PositionInfo:
        p = held.position
        average = None
        if p.quantity:  # as the engine writes average prices: 6 digits beyond the tick
            ticks = Decimal(abs(p.cost)) / (Decimal(abs(p.quantity)) * instrument.notional_units)
            exact = (ticks * instrument.tick_size).quantize(
                instrument.tick_size.scaleb(-6), rounding=ROUND_HALF_EVEN
            )
            trimmed = exact.normalize()
            # Both finite: their exponents are ints, not NaN/Infinity letters.
            tick_exponent = cast(int, instrument.tick_size.as_tuple().exponent)
            average = (
                exact.quantize(instrument.tick_size)
                if cast(int, trimmed.as_tuple().exponent) > tick_exponent
                else trimmed
            )
        return PositionInfo(
            exchange=instrument.venue.name,
            symbol=instrument.symbol,
            quantity=instrument.quantity_of(p.quantity),
            average_price=average,
            realized_pnl=units_to_decimal(p.realized),
            fees=units_to_decimal(held.fees),
        )

    def summary(self, exchange: Exchange) -> dict[str, Any]:
        """Orders, fills, fees and per-instrument position with realized and unrealized PnL
        (at the mid; None when a side of the book is empty), JSON-ready (Decimals)."""
        positions = []
        realized: dict[str, Decimal] = {}
        unrealized: dict[str, Decimal] = {}
        for index in sorted(self._held):
            held = self._held[index]
            instrument = held.instrument
            info = self.position(instrument)
            book = exchange.book(instrument)
            bid, ask = book.best_bid(), book.best_ask()
            upnl = None
            if bid is not None and ask is not None:
                units = held.position.unrealized((bid + ask) * instrument.notional_units)
                upnl = units_to_decimal(units)
                unrealized[instrument.quote] = unrealized.get(instrument.quote, Decimal(0)) + upnl
            realized[instrument.quote] = (
                realized.get(instrument.quote, Decimal(0)) + info.realized_pnl
            )
            positions.append(
                {
                    "exchange": info.exchange,
                    "symbol": info.symbol,
                    "quantity": info.quantity,
                    "average_price": info.average_price,
                    "realized_pnl": info.realized_pnl,
                    "unrealized_pnl": upnl,
                    "fees": info.fees,
                    "pnl_asset": instrument.quote,
                }
            )
        return {
            "orders": self.orders,
            "rejected_orders": self.rejected,
            "fills": self.fills,
            "volume": dict(sorted(self.volume.items())),
            "fees": dict(sorted(self.fees.items())),
            "realized_pnl": dict(sorted(realized.items())),
            "unrealized_pnl": dict(sorted(unrealized.items())),
            "positions": positions,
        }


__all__ = ["Tally"]
