"""A live board of many instruments (`vmx ticker --watch`): last, change, bid, ask, volume.

`TickerBoard` folds `ticker` messages into one row per instrument (pure, no I/O, no clock);
`render_ticker_board` draws it. The change is measured from the first price the board saw for
the instrument (the API's ticker has no opening price); the last price is green or red when its
latest move was up or down. Widths only grow, so the board does not jump.

Cross-venue spreads: given each instrument's market (base, quote, taker fee, from the markets
listing), the board also keeps, for every base and quote asset that two or more rows share,
the best spread of buying on one venue at its ask and selling on another at its bid, net of
both taker fees (`velocimex_cli.wire.cross_venue`, the arbitrage strategy's arithmetic). Rows
are compared when their quote assets are the same or both at par with USD (USD, USDT, USDC,
as the arbitrage strategy's `quote_rate` is 1 unless configured: the line says so); BTC/EUR
is never compared with BTC/USD. A negative spread is shown as it is (red), not hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text

from velocimex_cli.render.frame_lines import join_lines, number_cell
from velocimex_cli.wire.cross_venue import (
    CrossVenueSpread,
    VenueQuote,
    best_spread,
    quote_family,
)
from velocimex_cli.wire.numbers import parse_decimal, plain

_CENT = Decimal("0.01")
COLUMNS = ("instrument", "last", "change", "change %", "bid", "ask", "volume 24h")


@dataclass
class TickerRow:
    exchange: str
    symbol: str
    last: Decimal | None = None
    first: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal | None = None
    tick: int = 0  # +1 last moved up, -1 down, 0 unchanged (since the previous message)

    @property
    def change(self) -> Decimal | None:
        if self.last is None or self.first is None:
            return None
        return self.last - self.first

    @property
    def change_percent(self) -> Decimal | None:
        change = self.change
        if change is None or not self.first:
            return None
        return (change / self.first * 100).quantize(_CENT)


@dataclass(frozen=True)
class AssetSpread:
    """The best cross-venue spread of one base asset in one quote asset (None: no two of its
    rows have a bid and an ask yet). `at_par`: the rows' quote assets when they differ (all at
    par with `quote`, USD), else empty."""

    base: str
    quote: str
    spread: CrossVenueSpread | None
    at_par: tuple[str, ...] = ()


class TickerBoard:
    """One row per instrument, in the order they were asked for (or first seen).

    `markets`: the markets listing's entries of the instruments (base, quote, taker_fee), for
    the cross-venue spreads; an instrument without one is in no spread."""

    def __init__(
        self,
        instruments: list[tuple[str, str]] | None = None,
        markets: Mapping[tuple[str, str], Mapping] | None = None,
    ) -> None:
        self.rows: dict[tuple[str, str], TickerRow] = {}
        self.only = set(instruments) if instruments else None
        self.markets = dict(markets or {})
        for exchange, symbol in instruments or []:
            self.rows[(exchange, symbol)] = TickerRow(exchange, symbol)

    def spreads(self) -> list[AssetSpread]:
        """Per base asset and quote family (`cross_venue.quote_family`) shared by two or more
        rows, in the rows' order: the best spread."""
        groups: dict[tuple[str, str], list[VenueQuote]] = {}
        quotes_of: dict[tuple[str, str], set[str]] = {}
        for key, row in self.rows.items():
            market = self.markets.get(key)
            fee = parse_decimal(market.get("taker_fee")) if market else None
            if market is None or fee is None:
                continue
            quote = str(market["quote"])
            group = (str(market["base"]), quote_family(quote))
            groups.setdefault(group, []).append(
                VenueQuote(row.exchange, row.symbol, row.bid, row.ask, fee)
            )
            quotes_of.setdefault(group, set()).add(quote)
        spreads = []
        for (base, family), venues in groups.items():
            if len(venues) < 2:
                continue
            quotes = quotes_of[(base, family)]
            if len(quotes) == 1:
                spreads.append(AssetSpread(base, quotes.pop(), best_spread(venues)))
            else:
                spreads.append(
                    AssetSpread(base, family, best_spread(venues), tuple(sorted(quotes)))
                )
        return spreads

    def apply(self, message: Mapping) -> bool:
        """Fold one stream message in; True when the board changed."""
        if message.get("type") != "ticker":
            return False
        key = (str(message.get("exchange")), str(message.get("symbol")))
        if self.only is not None and key not in self.only:
            return False
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = TickerRow(*key)
        last = parse_decimal(message.get("price"))
        before = (row.last, row.bid, row.ask, row.volume)
        if last is not None:
            if row.first is None:
                row.first = last
            row.tick = 0 if row.last is None or last == row.last else (1 if last > row.last else -1)
            row.last = last
        row.bid = parse_decimal(message.get("bid"))
        row.ask = parse_decimal(message.get("ask"))
        row.volume = parse_decimal(message.get("volume"))
        return before != (row.last, row.bid, row.ask, row.volume)


class TickerBoardRenderer:
    def __init__(self) -> None:
        self.widths = [len(c) for c in COLUMNS]

    def render(self, board: TickerBoard, width: int, height: int, connection: str = "live") -> Text:
        rows = list(board.rows.values())
        cells = []
        for row in rows:
            change, percent = row.change, row.change_percent
            sign = "+" if change is not None and change > 0 else ""
            cells.append(
                (
                    f"{row.exchange}:{row.symbol}",
                    number_cell(row.last),
                    "-" if change is None else sign + plain(change),
                    "-" if percent is None else f"{sign}{plain(percent)}%",
                    number_cell(row.bid),
                    number_cell(row.ask),
                    number_cell(row.volume),
                )
            )
        for values in cells:
            self.widths = [max(w, len(v)) for w, v in zip(self.widths, values, strict=True)]
        lines: list[Text] = []
        title = Text("tickers", style="bold")
        label = Text(
            f" ● {connection} ",
            style="bold green" if connection == "live" else "bold black on yellow",
        )
        hint = "q quit "
        title.append(" " * max(1, width - title.cell_len - label.cell_len - len(hint)) + hint)
        title.append_text(label)
        lines.append(title)
        heading = "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(COLUMNS, self.widths, strict=True))
        )
        lines.append(Text(heading, style="bold"))
        stale = connection != "live"
        for row, values in zip(rows, cells, strict=True):
            line = Text(values[0].ljust(self.widths[0]), style="bold" if not stale else "dim")
            last_style = {1: "bold green", -1: "bold red"}.get(row.tick, "")
            change = row.change
            change_style = (
                "green" if change and change > 0 else "red" if change and change < 0 else ""
            )
            styles = (last_style, change_style, change_style, "green", "red", "")
            for value, w, style in zip(values[1:], self.widths[1:], styles, strict=True):
                line.append("  " + value.rjust(w), style="dim" if stale else style)
            lines.append(line)
        if not rows:
            lines.append(Text("waiting for the first tickers…", style="dim"))
        spreads = board.spreads()
        if spreads:
            lines.append(Text(""))
            lines.append(Text("best cross-venue spread, net of both taker fees", style="bold"))
            for asset in spreads:
                lines.append(spread_line(asset, stale))
        return join_lines(lines[:height], width)


def spread_line(asset: AssetSpread, stale: bool = False) -> Text:
    """`BTC/USDT  buy BINANCE 60010.00, sell OKX 60050.00: +12.34 USDT  +2.05 bps`."""
    line = Text(f"{asset.base}/{asset.quote}  ", style="dim" if stale else "bold")
    spread = asset.spread
    if spread is None:
        line.append("waiting for a bid and an ask on two venues", style="dim")
        return line
    sign = "+" if spread.net > 0 else ""
    line.append(
        f"buy {spread.buy.exchange} {plain(spread.buy_price)}, "
        f"sell {spread.sell.exchange} {plain(spread.sell_price)}: "
    )
    style = "dim" if stale else ("bold green" if spread.net > 0 else "red")
    amount = (
        f"{sign}{plain(spread.net)} {asset.quote}  {sign}{plain(spread.bps.quantize(_CENT))} bps"
    )
    line.append(amount, style=style)
    if spread.net <= 0:
        line.append("  (no edge)", style="dim")
    if asset.at_par:
        line.append(f"  ({' = '.join(asset.at_par)})", style="dim")
    return line


def spread_message(asset: AssetSpread) -> dict:
    """The NDJSON line of a spread off a terminal (`type` "cross_venue_spread")."""
    spread = asset.spread
    body: dict = {
        "type": "cross_venue_spread", "base": asset.base, "quote": asset.quote,
        "quotes_at_par": list(asset.at_par),
    }  # fmt: skip
    if spread is None:
        return body | {"buy": None, "sell": None, "net": None, "net_bps": None}
    return body | {
        "buy": {"exchange": spread.buy.exchange, "symbol": spread.buy.symbol,
                "price": spread.buy_price, "taker_fee": spread.buy.taker_fee},
        "sell": {"exchange": spread.sell.exchange, "symbol": spread.sell.symbol,
                 "price": spread.sell_price, "taker_fee": spread.sell.taker_fee},
        "net": spread.net,
        "net_bps": spread.bps.quantize(_CENT),
    }  # fmt: skip
