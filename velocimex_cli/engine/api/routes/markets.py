"""Market data routes: venue status, the instrument catalogue, order books and tickers."""

from __future__ import annotations

from velocimex_cli.engine.api.operations import Call, Operation, Param, Success
from velocimex_cli.engine.api.payloads import exchange_text, list_of, ref, symbol_text
from velocimex_cli.engine.api.responses import JsonResponse, ok

EXCHANGE = Param("exchange", exchange_text(), "Exchange, case-insensitive.")
SYMBOL = Param(
    "symbol",
    symbol_text(),
    "Symbol, case-insensitive; the slash may be raw, escaped (%2F) or a dash (BTC-USDT).",
)
_UNKNOWN = "Unknown exchange or symbol (INVALID_PARAMETER)."


async def market_status(call: Call) -> JsonResponse:
    return ok({"markets": call.node.market_status()})


async def markets(call: Call) -> JsonResponse:
    return ok({"markets": call.exchange.instruments(call.query["exchange"])})


async def order_book(call: Call) -> JsonResponse:
    path = call.path
    return ok(call.exchange.order_book(path["exchange"], path["symbol"], call.query["depth"]))


async def ticker(call: Call) -> JsonResponse:
    return ok(call.exchange.ticker(call.path["exchange"], call.path["symbol"]))


OPERATIONS = (
    Operation(
        "GET",
        "/v1/markets/status",
        market_status,
        "Market status of every venue",
        "market data",
        (Success(200, "Every venue's status.", list_of("markets", "MarketStatus")),),
    ),
    Operation(
        "GET",
        "/v1/markets",
        markets,
        "The instrument catalogue",
        "market data",
        (Success(200, "Every instrument (of one exchange).", list_of("markets", "Instrument")),),
        query=(Param("exchange", exchange_text(), "Only this exchange."),),
        extension=True,
    ),
    # `symbol:path` lets a raw slash through (/orderbook/BTC/USDT); %2F arrives decoded the same.
    Operation(
        "GET",
        "/v1/markets/{exchange}/orderbook/{symbol:path}",
        order_book,
        "Order book",
        "market data",
        (Success(200, "The book, best levels first.", ref("OrderBook")),),
        path_params=(EXCHANGE, SYMBOL),
        query=(
            Param(
                "depth",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
                "Levels per side.",
            ),
        ),
        errors={400: _UNKNOWN},
    ),
    Operation(
        "GET",
        "/v1/markets/{exchange}/ticker/{symbol:path}",
        ticker,
        "Ticker (the reference's Market Data format)",
        "market data",
        (Success(200, "Last price, 24-hour volume, best bid and ask.", ref("Ticker")),),
        path_params=(EXCHANGE, SYMBOL),
        errors={400: _UNKNOWN},
        extension=True,
    ),
)
