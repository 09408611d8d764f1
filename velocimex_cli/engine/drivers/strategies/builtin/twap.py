"""TWAP: buy or sell a total quantity in N equal slices over a duration, never past a limit.

Slice k (k = 1..N) runs at (k - 1) x duration / N and brings the executed quantity up to
k/N of the total with an IOC limit order at `limit_price`: it takes what the book offers at
that price or better and never rests, so nothing executes beyond the limit. What a slice could
not fill (the book was beyond the limit, or the market was closed) is carried into the next
one. At the end of the
duration a last catch-up runs, then the deployment completes, reporting any shortfall.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.context import FillInfo, InstrumentSpec
from velocimex_cli.engine.drivers.strategies.params import Param, ParamValues
from velocimex_cli.wire.errors import InvalidParameter, MarketClosed

MAX_DURATION = 30 * 86_400


def _check_grid(name: str, value: Decimal, step: Decimal, what: str) -> None:
    if value % step:
        raise InvalidParameter(
            name, value, f"parameter {name!r} must be a multiple of the {what} {step}"
        )


class Twap(Strategy):
    id = "twap"
    name = "TWAP"
    description = (
        "Buy or sell a total quantity in equal slices spread evenly over a duration, "
        "each an IOC limit order that never trades beyond the limit price."
    )
    params: ClassVar[dict[str, Param]] = {
        "side": Param(str, "buy", choices=("buy", "sell"), description="buy or sell"),
        "quantity": Param(
            Decimal, min=Decimal("0.00000001"), description="total quantity, in the base asset"
        ),
        "slices": Param(int, 10, min=1, max=10_000, description="number of slices"),
        "duration": Param(
            int, 600, min=1, max=MAX_DURATION, description="seconds from the first slice to the end"
        ),
        "limit_price": Param(
            Decimal,
            min=Decimal("0.00000001"),
            description="worst price: highest to buy at, lowest to sell at",
        ),
    }

    @classmethod
    def check(cls, config: ParamValues, instrument: InstrumentSpec) -> None:
        _check_grid("quantity", config.quantity, instrument.lot_size, "lot size")
        _check_grid("limit_price", config.limit_price, instrument.tick_size, "tick size")
        if config.quantity < instrument.min_quantity:
            raise InvalidParameter(
                "quantity",
                config.quantity,
                f"parameter 'quantity' is below {instrument.key}'s minimum "
                f"{instrument.min_quantity}",
            )

    def on_start(self) -> None:
        spec = self.ctx.instrument
        self.lot = spec.lot_size
        self.total = self.config.quantity
        self.filled = Decimal(0)
        self.slice = 0
        interval = Decimal(self.config.duration) / self.config.slices
        self.ctx.log(
            f"TWAP {self.config.side} {self.total} {spec.key} in {self.config.slices} slices "
            f"every {interval}s, limit {self.config.limit_price}"
        )
        self.ctx.set_timer("slice", interval)
        self._run_slice()

    def on_timer(self, name: str) -> None:
        self._run_slice()

    def on_fill(self, fill: FillInfo) -> None:
        self.filled += fill.quantity
        if self.filled >= self.total:
            self.ctx.log(f"TWAP complete: {self.filled} at or within {self.config.limit_price}")
            self.ctx.stop("completed")

    def _run_slice(self) -> None:
        slices = self.config.slices
        self.slice += 1
        if self.slice > slices:  # the end of the duration: a last catch-up, then done
            self._send(self.total - self.filled)
            if self.filled < self.total:
                self.ctx.log(
                    f"TWAP ended with {self.filled} of {self.total}: the book stayed beyond "
                    f"the limit {self.config.limit_price}",
                    "warning",
                )
                self.ctx.stop(f"duration ended: filled {self.filled} of {self.total}")
            return
        # Lots due by this slice: total x k / N, on the lot grid.
        total_lots = self.total / self.lot
        due = (total_lots * self.slice // slices) * self.lot
        self._send(due - self.filled)

    def _send(self, quantity: Decimal) -> None:
        if quantity <= 0:
            return
        minimum = self.ctx.instrument.min_quantity
        remaining = self.total - self.filled
        if quantity < minimum:
            if remaining < minimum:
                quantity = remaining  # a tail below the minimum: the engine will say so
            else:
                return  # carried into the next slice until it reaches the minimum
        try:
            order = self.ctx.place_order(
                self.config.side, quantity, self.config.limit_price, time_in_force="ioc"
            )
        except MarketClosed as exc:  # carried into the next slice
            self.ctx.log(f"slice {self.slice}: {exc.message}", "warning")
            return
        if order.filled_quantity < quantity:
            self.ctx.log(
                f"slice {self.slice}: {order.filled_quantity} of {quantity} within the limit",
                "debug",
            )
