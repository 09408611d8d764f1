"""Candles (an extension): an instrument's stored candles of its trades (engine/candle_store.py)."""

from __future__ import annotations

from velocimex_cli.engine.api.operations import Call, Operation, Param, Success
from velocimex_cli.engine.api.payloads import NUMBER, TIMESTAMP, obj
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.engine.api.routes.markets import EXCHANGE, SYMBOL
from velocimex_cli.wire.candles import (
    DEFAULT_INTERVAL,
    DEFAULT_LIMIT,
    INTERVALS,
    MAX_LIMIT,
    RETENTION_DAYS,
)

_KEPT = ", ".join(f"{name} for {days} days" for name, days in RETENTION_DAYS.items())

CANDLE = obj(
    {
        "time": TIMESTAMP,
        "open": NUMBER,
        "high": NUMBER,
        "low": NUMBER,
        "close": NUMBER,
        "volume": NUMBER,
        "quote_volume": NUMBER,
        "trades": {"type": "integer", "minimum": 1},
    },
    description="One period's trades: `time` is the period's open time (UTC); `volume` is in "
    "the base asset, `quote_volume` (price x quantity) in the quote asset.",
)


async def candles(call: Call) -> JsonResponse:
    instrument = call.exchange.instrument(call.path["exchange"], call.path["symbol"])
    interval = call.query["interval"]
    return ok(
        {
            "exchange": instrument.venue.name,
            "symbol": instrument.symbol,
            "interval": interval,
            "candles": call.node.candles(instrument, interval, call.query["limit"]),
        }
    )


OPERATIONS = (
    Operation(
        "GET",
        "/v1/markets/{exchange}/candles/{symbol:path}",
        candles,
        "Candles of an instrument's trades",
        "market data",
        (
            Success(
                200,
                "The newest candles, oldest first; the last one may still be in progress.",
                obj(
                    {
                        "exchange": {"type": "string"},
                        "symbol": {"type": "string"},
                        "interval": {"type": "string", "enum": list(INTERVALS)},
                        "candles": {"type": "array", "items": CANDLE},
                    }
                ),
            ),
        ),
        path_params=(EXCHANGE, SYMBOL),
        query=(
            Param(
                "interval",
                {"type": "string", "enum": list(INTERVALS), "default": DEFAULT_INTERVAL},
                "The candles' period.",
            ),
            Param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "How many of the newest candles.",
            ),
        ),
        errors={400: "Unknown exchange or symbol, or a bad interval or limit (INVALID_PARAMETER)."},
        description="Built from the engine's stored trades; a period without trades has no "
        f"candle. Kept across restarts: {_KEPT}. An engine without a data directory keeps none.",
        extension=True,
    ),
)
