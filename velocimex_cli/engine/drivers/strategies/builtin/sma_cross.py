"""SMA crossover on the trade price: long when the fast average crosses above the slow one,
flat (or short, with allow_short) when it crosses below.

Cheap per trade: both averages are running sums over ring buffers (one add and one subtract
per window), compared as fast_sum x slow - slow_sum x fast so no division runs per event, and
an order is only considered when the sign of the difference flips. The sums are Python ints:
each price as a whole number of `10**-scale` (the tick's decimals; a finer price widens the
scale of everything kept), looked up per price once (a market trades at few prices). A
difference of such sums has the sign the Decimal sums' difference has, exactly (Decimal
arithmetic would round past 28 digits, which no real price reaches), and int arithmetic costs
a quarter of Decimal's.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import ClassVar, Literal

from velocimex_cli.engine.drivers.strategies.base import Strategy
from velocimex_cli.engine.drivers.strategies.context import InstrumentSpec, TradeTick
from velocimex_cli.engine.drivers.strategies.params import Param, ParamValues
from velocimex_cli.wire.errors import InvalidParameter, MarketClosed

MAX_KEPT_PRICES = 100_000  # prices kept with their steps before the table starts again


class SmaCross(Strategy):
    id = "sma-cross"
    name = "SMA crossover"
    description = (
        "Moving-average crossover on the trade price: go long order_amount when the fast "
        "average crosses above the slow one, back to flat (or short) when it crosses below."
    )
    params: ClassVar[dict[str, Param]] = {
        "fast": Param(int, 10, min=1, max=100_000, description="fast window, in trades"),
        "slow": Param(int, 30, min=2, max=1_000_000, description="slow window, in trades"),
        "order_amount": Param(
            Decimal, Decimal("0.001"), min=Decimal("0.00000001"), description="position size"
        ),
        "allow_short": Param(bool, False, description="sell short on a cross below"),
    }

    @classmethod
    def check(cls, config: ParamValues, instrument: InstrumentSpec) -> None:
        if config.fast >= config.slow:
            raise InvalidParameter(
                "fast",
                config.fast,
                f"parameter 'fast' ({config.fast}) must be below 'slow' ({config.slow})",
            )
        amount = config.order_amount
        if amount % instrument.lot_size or amount < instrument.min_quantity:
            raise InvalidParameter(
                "order_amount",
                amount,
                f"parameter 'order_amount' must be a multiple of {instrument.lot_size} "
                f"and at least {instrument.min_quantity} on {instrument.key}",
            )

    def on_start(self) -> None:
        config = self.config
        self.fast_n: int = config.fast
        self.slow_n: int = config.slow
        # The windows and their sums in steps of 10**-scale (see the module's docstring).
        self.fast_prices: deque[int] = deque()
        self.slow_prices: deque[int] = deque()
        self.fast_sum = 0
        self.slow_sum = 0
        exponent = self.ctx.instrument.tick_size.as_tuple().exponent
        self.scale = max(0, -exponent) if isinstance(exponent, int) else 0
        self._steps: dict[Decimal, int] = {}  # price -> its steps at `scale`
        self.trend = 0  # sign of fast - slow once both windows are full
        self.crossings = 0
        self.exchange = self.ctx.instrument.exchange
        self.symbol = self.ctx.instrument.symbol

    def on_trade(self, trade: TradeTick) -> None:
        price = trade.price
        steps = self._steps.get(price)
        if steps is None:
            steps = self._steps_of(price)
        fast, slow = self.fast_prices, self.slow_prices
        fast.append(steps)
        fast_sum = self.fast_sum + steps
        if len(fast) > self.fast_n:
            fast_sum -= fast.popleft()
        self.fast_sum = fast_sum
        slow.append(steps)
        slow_sum = self.slow_sum + steps
        self.slow_sum = slow_sum
        if len(slow) > self.slow_n:
            slow_sum = self.slow_sum = slow_sum - slow.popleft()
        elif len(slow) < self.slow_n:
            return
        diff = fast_sum * self.slow_n - slow_sum * self.fast_n
        trend = (diff > 0) - (diff < 0)
        if trend == 0 or trend == self.trend:
            return
        previous, self.trend = self.trend, trend
        if previous == 0:
            return  # the first reading is a state, not a crossing
        self.crossings += 1
        self._target(trend, price)

    def _steps_of(self, price: Decimal) -> int:
        """`price` in steps of 10**-scale, kept for its next trade; a price finer than the
        scale first widens it (everything kept is multiplied up: still exact)."""
        sign, digits, exponent = price.as_tuple()
        if not isinstance(exponent, int):
            raise InvalidParameter("price", str(price), "a trade's price must be a finite number")
        if -exponent > self.scale:
            self._widen(-exponent)
        steps = int("".join(map(str, digits)) or "0") * 10 ** (exponent + self.scale)
        steps = -steps if sign else steps
        if len(self._steps) >= MAX_KEPT_PRICES:
            self._steps.clear()
        self._steps[price] = steps
        return steps

    def _widen(self, scale: int) -> None:
        factor = 10 ** (scale - self.scale)
        self.scale = scale
        self.fast_prices = deque(steps * factor for steps in self.fast_prices)
        self.slow_prices = deque(steps * factor for steps in self.slow_prices)
        self.fast_sum *= factor
        self.slow_sum *= factor
        self._steps.clear()

    def _target(self, trend: int, price: Decimal) -> None:
        amount = self.config.order_amount
        target = amount if trend > 0 else -amount if self.config.allow_short else Decimal(0)
        held = self.ctx.position().quantity
        delta = target - held
        if not delta:
            return
        side: Literal["buy", "sell"] = "buy" if delta > 0 else "sell"
        self.ctx.log(f"cross {'up' if trend > 0 else 'down'} at {price}: {side} {abs(delta)}")
        try:
            self.ctx.place_order(side, abs(delta))
        except MarketClosed as exc:  # the next crossing trades to its own target
            self.ctx.log(f"not traded: {exc.message}", "warning")
