"""The account's orders and fills as they happen (`vmx order watch` on a terminal).

`OrderBoard` folds `/v1/ws/orders` messages (`order` with an `event`, and `fill`) into the open
orders, the recently closed ones and the latest fills (pure, no I/O). It also gives the ladder
the user's resting size per price level (`own_levels`). `OrderBoardRenderer` draws it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from velocimex_cli.render.frame_lines import join_lines, number_cell
from velocimex_cli.render.styles import SIDE_STYLE, STATUS_STYLE
from velocimex_cli.render.tape import clock_of
from velocimex_cli.wire.numbers import parse_decimal, plain

OPEN_STATUSES = ("open", "partially_filled")


@dataclass
class BoardOrder:
    order_id: str
    exchange: str
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    quantity: Decimal
    filled: Decimal
    status: str
    event: str
    updated_at: str

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled


@dataclass(frozen=True)
class BoardFill:
    trade_id: str
    order_id: str
    exchange: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: str
    liquidity: str
    timestamp: str


class OrderBoard:
    def __init__(self, keep_closed: int = 10, keep_fills: int = 20) -> None:
        self.open: dict[str, BoardOrder] = {}
        self.closed: deque[BoardOrder] = deque(maxlen=keep_closed)
        self.fills: deque[BoardFill] = deque(maxlen=keep_fills)

    def apply(self, message: Mapping) -> bool:
        """Fold one orders-stream message in; True when the board changed."""
        kind = message.get("type")
        if kind == "order":
            order = _order(message)
            if order is None:
                return False
            if order.status in OPEN_STATUSES:
                self.open[order.order_id] = order
            else:
                self.open.pop(order.order_id, None)
                self._close(order)
            return True
        if kind == "fill":
            price, quantity = (
                parse_decimal(message.get("price")),
                parse_decimal(message.get("quantity")),
            )
            if price is None or quantity is None:
                return False
            self.fills.appendleft(
                BoardFill(
                    str(message.get("trade_id", "")),
                    str(message.get("order_id", "")),
                    str(message.get("exchange", "")),
                    str(message.get("symbol", "")),
                    str(message.get("side", "")),
                    price,
                    quantity,
                    _fee_text(message),
                    str(message.get("liquidity", "")),
                    str(message.get("timestamp", "")),
                )
            )
            return True
        return False

    def _close(self, order: BoardOrder) -> None:
        for seen in [o for o in self.closed if o.order_id == order.order_id]:
            self.closed.remove(seen)
        self.closed.appendleft(order)

    def load_open(self, orders: list[Mapping]) -> None:
        """Seed from `GET /v1/trading/orders` (orders resting before the stream started)."""
        for body in orders:
            order = _order({"event": "open", **body, "order_type": body.get("type")})
            if order is not None and order.status in OPEN_STATUSES:
                self.open[order.order_id] = order

    def replace_open(self, orders: list[Mapping], keep: set[str] | frozenset = frozenset()) -> None:
        """After the stream was down: the open orders are exactly these (from REST), except the
        `keep` ones, updated by the stream since the REST call went out. An order the board
        thought open that is not among them ended meanwhile, how is not known here (its status
        shows `not open`)."""
        before = self.open
        self.open = {k: v for k, v in before.items() if k in keep}
        self.load_open([o for o in orders if str(o.get("order_id")) not in keep])
        for order_id, order in before.items():
            if order_id not in self.open:
                order.status, order.event = "not open", "missed"
                self._close(order)

    def own_levels(self, exchange: str, symbol: str) -> dict[tuple[str, Decimal], Decimal]:
        """The remaining size of this instrument's resting orders by (bid|ask, price)."""
        levels: dict[tuple[str, Decimal], Decimal] = {}
        for order in self.open.values():
            if order.exchange != exchange or order.symbol != symbol or order.price is None:
                continue
            key = ("bid" if order.side == "buy" else "ask", order.price)
            levels[key] = levels.get(key, Decimal(0)) + order.remaining
        return levels


def _fee_text(message: Mapping) -> str:
    fee = parse_decimal(message.get("fee"))
    if fee is None:
        return ""
    return f"{plain(fee)} {message.get('fee_asset') or ''}".strip()


def _order(message: Mapping) -> BoardOrder | None:
    quantity = parse_decimal(message.get("quantity"))
    if quantity is None or message.get("order_id") is None:
        return None
    return BoardOrder(
        str(message["order_id"]),
        str(message.get("exchange", "")),
        str(message.get("symbol", "")),
        str(message.get("side", "")),
        str(message.get("order_type") or ""),
        parse_decimal(message.get("price")),
        quantity,
        parse_decimal(message.get("filled_quantity")) or Decimal(0),
        str(message.get("status", "")),
        str(message.get("event", "")),
        str(message.get("updated_at") or message.get("timestamp") or ""),
    )


ORDER_COLUMNS = (
    "time",
    "order",
    "instrument",
    "side",
    "type",
    "price",
    "quantity",
    "filled",
    "status",
)
FILL_COLUMNS = ("time", "order", "instrument", "side", "price", "quantity", "fee", "liquidity")


class OrderBoardRenderer:
    def __init__(self) -> None:
        self.order_widths = [len(c) for c in ORDER_COLUMNS]
        self.fill_widths = [len(c) for c in FILL_COLUMNS]

    def render(
        self,
        board: OrderBoard,
        width: int,
        height: int,
        connection: str = "live",
        note: str | None = None,
    ) -> Text:
        stale = connection != "live"
        title = Text(f"orders: {len(board.open)} open", style="bold")
        if note:
            title.append(f"  {note}", style="yellow")
        label = Text(f" ● {connection} ", style="bold black on yellow" if stale else "bold green")
        hint = "q quit "
        title.append(" " * max(1, width - title.cell_len - label.cell_len - len(hint)) + hint)
        title.append_text(label)
        orders = list(board.open.values())[::-1] + list(board.closed)
        order_cells = [
            (
                clock_of(o.updated_at),
                o.order_id,
                f"{o.exchange}:{o.symbol}",
                o.side,
                o.order_type,
                number_cell(o.price),
                plain(o.quantity),
                plain(o.filled),
                o.status,
            )
            for o in orders
        ]
        fill_cells = [
            (
                clock_of(f.timestamp),
                f.order_id,
                f"{f.exchange}:{f.symbol}",
                f.side,
                plain(f.price),
                plain(f.quantity),
                f.fee,
                f.liquidity,
            )
            for f in board.fills
        ]
        for values in order_cells:
            self.order_widths = [
                max(w, len(v)) for w, v in zip(self.order_widths, values, strict=True)
            ]
        for cells in fill_cells:
            self.fill_widths = [
                max(w, len(v)) for w, v in zip(self.fill_widths, cells, strict=True)
            ]
        lines = [title, _row(ORDER_COLUMNS, self.order_widths, "bold", ORDER_COLUMNS)]
        fill_room = max(3, (height - 4) // 3) if fill_cells else 0
        order_room = max(1, height - 4 - fill_room)
        for order, values in zip(orders[:order_room], order_cells, strict=False):
            dim = stale or order.status not in OPEN_STATUSES
            line = _row(values, self.order_widths, "dim" if dim else "", ORDER_COLUMNS)
            _style_cell(line, self.order_widths, 3, SIDE_STYLE.get(order.side, ""))
            _style_cell(line, self.order_widths, 8, STATUS_STYLE.get(order.status, ""))
            lines.append(line)
        if not orders:
            lines.append(Text("no open orders", style="dim"))
        lines.append(Text("fills", style="bold"))
        if fill_cells:
            lines.append(_row(FILL_COLUMNS, self.fill_widths, "bold", FILL_COLUMNS))
            for fill, cells in zip(board.fills, fill_cells[:fill_room], strict=False):
                line = _row(cells, self.fill_widths, "dim" if stale else "", FILL_COLUMNS)
                _style_cell(line, self.fill_widths, 3, SIDE_STYLE.get(fill.side, ""))
                lines.append(line)
        else:
            lines.append(Text("none yet", style="dim"))
        return join_lines(lines[:height], width)


_RIGHT = {"price", "quantity", "filled", "fee"}


def _row(values: tuple[str, ...], widths: list[int], style: str, columns: tuple[str, ...]) -> Text:
    cells = (
        v.rjust(w) if c in _RIGHT else v.ljust(w)
        for v, w, c in zip(values, widths, columns, strict=True)
    )
    return Text("  ".join(cells), style=style)


def _style_cell(line: Text, widths: list[int], index: int, style: str) -> None:
    if style:
        start = sum(w + 2 for w in widths[:index])
        line.stylize(style, start, start + widths[index])
