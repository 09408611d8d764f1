"""The ladder's keys: `c` shows the cumulative depth as a chart, `+` and `-` group the price
levels coarser or finer (steps of 1, 2, 5 x 10^n, each a whole number of ticks)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velocimex_cli.cli.live_screen import FramePacer
    from velocimex_cli.cli.market_watch import MarketWatch

GROUP_MULTIPLES = 10  # how many steps `+` offers, from the first that merges levels
KEYS_HINT = "q quit · c chart · +/- group"


def group_steps(tick: Decimal, prices: Sequence[Decimal]) -> list[Decimal]:
    """The price steps `+` walks through: 1, 2, 5 x 10^n in price units, starting at the first
    one wider than the book's typical gap between levels (the median of `prices`' gaps), so the
    first `+` already merges levels; each a whole number of ticks."""
    from velocimex_cli.render.price_levels import nice_ceiling

    gaps = sorted(abs(a - b) for a, b in itertools.pairwise(prices) if a != b)
    spacing = gaps[len(gaps) // 2] if gaps else tick
    step = nice_ceiling(max(spacing, tick) * Decimal("1.000001"))  # strictly wider
    steps: list[Decimal] = []
    while len(steps) < GROUP_MULTIPLES:
        if step % tick == 0:
            steps.append(step)
        step = nice_ceiling(step * Decimal("1.000001"))
    return steps


def next_group(
    current: Decimal | None, coarser: bool, tick: Decimal, prices: Sequence[Decimal]
) -> Decimal | None:
    """The grouping step after `+` (coarser) or `-` (finer); None is no grouping."""
    steps = group_steps(tick, prices)
    if coarser:
        if current is None:
            return steps[0]
        return next((s for s in steps if s > current), max(current, steps[-1]))
    finer = [s for s in steps if current is not None and s < current]
    return finer[-1] if finer else None


class LadderKeys:
    """What a key does to a live ladder; a key that changed the view marks a frame due."""

    def __init__(
        self, watch: MarketWatch, tick: Decimal | None, pacer: FramePacer, chart: bool
    ) -> None:
        self.watch = watch
        self.tick = tick
        self.pacer = pacer
        self.chart = chart  # the depth chart instead of the ladder's rows

    def __call__(self, key: str) -> None:
        watch, tick = self.watch, self.tick
        if key in "cC":
            self.chart = not self.chart
        elif key in "+=-_" and tick is not None:
            book = watch.book
            prices = [price for price, _ in book.bids(50)] if book else []
            step = next_group(watch.group_step, key in "+=", tick, prices)
            watch.group_step = step
            watch.group_ticks = int(step / tick) if step is not None else None
        else:
            return
        self.pacer.mark()
