"""The cross-venue edge: buying an asset on one venue and selling it on another, net of the
taker fee of both legs. One place for the arithmetic the arbitrage strategy trades on and
`vmx ticker --watch` shows. Decimal only; fees are fractions (0.001 = 10 bps); both prices in
the same quote asset (the caller converts, or compares only like quotes or quotes at par).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

BPS = Decimal(10_000)
# Quote assets compared at par with one another (BTC/USDT against BTC/USD), as the arbitrage
# strategy's `quote_rate` is 1 unless configured; any other two quotes are never compared.
PAR_QUOTES = ("USD", "USDT", "USDC")


def quote_family(quote: str) -> str:
    """The asset `quote` is compared in: USD for every quote at par with it, else itself."""
    return PAR_QUOTES[0] if quote in PAR_QUOTES else quote


def net_edge(buy: Decimal, sell: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    """Per unit of the base asset, in the quote asset: `sell - buy` less the taker fee paid on
    each leg (`buy_fee` of the buy's notional, `sell_fee` of the sell's)."""
    return sell - buy - (buy_fee * buy + sell_fee * sell)


def edge_bps(buy: Decimal, sell: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    """`net_edge` in basis points of the buy price."""
    return net_edge(buy, sell, buy_fee, sell_fee) / buy * BPS


@dataclass(frozen=True)
class VenueQuote:
    """One venue's best prices for an asset, and its taker fee."""

    exchange: str
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    taker_fee: Decimal


@dataclass(frozen=True)
class CrossVenueSpread:
    """Buy at `buy`'s ask (`buy_price`), sell at `sell`'s bid (`sell_price`): `net` per unit of
    base (quote asset) and `bps` of the buy price, after both taker fees. Negative when no such
    trade pays."""

    buy: VenueQuote
    sell: VenueQuote
    buy_price: Decimal
    sell_price: Decimal
    net: Decimal
    bps: Decimal


def best_spread(quotes: Iterable[VenueQuote]) -> CrossVenueSpread | None:
    """The best (highest bps) of buying on one of `quotes` and selling on another; None when
    no two venues have an ask and a bid to pair. Ties keep the first pair in the given order."""
    quotes = list(quotes)
    best: CrossVenueSpread | None = None
    for buy in quotes:
        if buy.ask is None or buy.ask <= 0:
            continue
        for sell in quotes:
            if sell is buy or sell.bid is None:
                continue
            bps = edge_bps(buy.ask, sell.bid, buy.taker_fee, sell.taker_fee)
            if best is None or bps > best.bps:
                net = net_edge(buy.ask, sell.bid, buy.taker_fee, sell.taker_fee)
                best = CrossVenueSpread(buy, sell, buy.ask, sell.bid, net, bps)
    return best
