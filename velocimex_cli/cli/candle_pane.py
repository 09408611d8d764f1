"""The price chart pane of `vmx watch`: 1-minute candles under the ladder, where they fit.

The candles are fetched once when the watch starts, then grown from the trades the watch
already receives (client/candles.py). The pane takes the bottom PANE_ROWS rows of a terminal
at least MIN_WIDTH x MIN_HEIGHT; a smaller terminal shows the ladder alone, as before. If the
engine cannot give candles (an older engine without the route), the watch goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.client.candles import LiveCandles

INTERVAL = "1m"
KEEP = 200  # candles held (a pane wider than ~400 columns shows them all)
PANE_ROWS = 12
MIN_WIDTH = 80
MIN_HEIGHT = 40  # below this, every row goes to the ladder


class CandlePane:
    def __init__(self, live: LiveCandles) -> None:
        self.live = live

    def rows_for(self, width: int, height: int) -> int:
        """How many of the screen's rows the pane takes (0: it does not fit)."""
        return PANE_ROWS if width >= MIN_WIDTH and height >= MIN_HEIGHT else 0

    def hook(self, apply: Callable[[dict], bool]) -> Callable[[dict], bool]:
        """`apply` (the watch's own), with every message also folded into the candles."""

        def both(message: dict) -> bool:
            changed = apply(message)
            return self.live.apply(message) or changed

        return both

    def rows(self, width: int, rows: int) -> list[list[tuple[int, Text]]]:
        """The pane as screen rows of (column, Text)."""
        from velocimex_cli.render.candles import candle_chart

        title = f"─ price · {INTERVAL} candles "
        chart = candle_chart(self.live.candles, width, rows, title.ljust(width, "─"))
        return [[(0, line)] for line in chart.split("\n", allow_blank=True)][:rows]


def candle_pane(factory: Factory, exchange: str, symbol: str) -> CandlePane | None:
    """The pane with the instrument's stored candles; None when the engine gives none."""
    from velocimex_cli.client.candles import LiveCandles
    from velocimex_cli.wire.errors import ApiError

    try:
        answer: Any = factory.client().candles(exchange, symbol, INTERVAL, KEEP)
    except ApiError:
        return None
    live = LiveCandles(exchange, symbol, INTERVAL, KEEP)
    live.load(answer)
    return CandlePane(live)
