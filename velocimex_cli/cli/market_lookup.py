"""Instruments named on the command line, checked against the markets the engine lists:
NOT_FOUND naming what it does list, before any live view connects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory


def canonical_instrument(exchange: str, symbol: str) -> tuple[str, str]:
    return exchange.strip().upper(), symbol.strip().upper().replace("-", "/")


def parse_instrument(text: str) -> tuple[str, str]:
    exchange, sep, symbol = text.partition(":")
    if not sep or not exchange.strip() or not symbol.strip():
        raise CommandError(
            f"{text!r} is not an instrument; write EXCHANGE:SYMBOL, e.g. BINANCE:BTC/USDT"
        )
    return canonical_instrument(exchange, symbol)


def exchange_markets(factory: Factory, exchange: str) -> list[dict[str, Any]]:
    """The markets the engine lists for `exchange`; NOT_FOUND when it lists none."""
    from velocimex_cli.wire.errors import ApiError, NotFound

    try:
        markets = factory.client().markets(exchange).get("markets", [])
    except ApiError as exc:
        if exc.details.get("parameter") != "exchange":
            raise
        markets = []
    if not markets:
        raise NotFound(
            f"unknown exchange {exchange!r}; `vmx markets list` shows the exchanges",
            {"parameter": "exchange", "value": exchange},
        )
    return markets


def market_in(markets: list[dict[str, Any]], exchange: str, symbol: str) -> dict[str, Any]:
    """The instrument's entry among its exchange's markets; NOT_FOUND naming the ones listed."""
    from velocimex_cli.wire.errors import NotFound

    for market in markets:
        if market.get("exchange") == exchange and market.get("symbol") == symbol:
            return market
    known = ", ".join(sorted(str(m.get("symbol")) for m in markets))
    raise NotFound(
        f"{exchange} has no symbol {symbol!r}; it lists {known}",
        {"parameter": "symbol", "value": symbol},
    )


def find_market(factory: Factory, exchange: str, symbol: str) -> dict[str, Any]:
    """The instrument's market entry (tick size); NOT_FOUND when there is no such market."""
    exchange, symbol = canonical_instrument(exchange, symbol)
    return market_in(exchange_markets(factory, exchange), exchange, symbol)
