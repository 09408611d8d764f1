"""JSON Schemas of what the REST API sends and receives, for the route table and /openapi.json.

`COMPONENTS` holds the named payloads (Order, Fill, OrderBook, ...); operations refer to them
with `ref("Order")`. Numbers are JSON numbers written with exact digits (read them as
decimals); a nullable field is typed `[T, "null"]` (OpenAPI 3.1). Responses may gain fields
over time: clients ignore what they do not know, so payload objects are left open.
"""

from __future__ import annotations

from typing import Any

from velocimex_cli.engine.core.orders import Reason, Status
from velocimex_cli.wire.errors import ErrorCode
from velocimex_cli.wire.orders import EXCHANGE_PATTERN, NAME_MAX, SYMBOL_PATTERN
from velocimex_cli.wire.orders import json_schema as order_request_schema

Schema = dict[str, Any]

ORDER_ID_MAX = 80  # "client_order_id:" + 64
TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "example": "2024-04-15T14:30:00.123456Z",
}
NUMBER: Schema = {"type": "number"}
NULLABLE_NUMBER: Schema = {"type": ["number", "null"]}
# From the engine's own enums, so a new status, reason or error code is documented with it.
ORDER_STATUSES = [status.value for status in Status]
ORDER_REASONS = [reason.value for reason in Reason]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], **extra: Any) -> Schema:
    """An object whose every listed property is always present."""
    return {"type": "object", "required": list(properties), "properties": properties, **extra}


def list_of(key: str, item: str) -> Schema:
    """The reference's wrapped list: {"orders": [...]}."""
    return obj({key: {"type": "array", "items": ref(item)}})


def _market_status() -> Schema:
    """A venue's status; a mirrored exchange's row adds `reason` and `feed` (extensions,
    drivers/venues/status.py) and may be `halted`."""
    schema = obj(
        {
            "exchange": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed", "halted"]},
            "last_update": TIMESTAMP,
        }
    )
    schema["properties"] |= {
        "reason": {"type": ["string", "null"]},
        "feed": obj(
            {
                "source": {"type": "string"},
                "lag_ms": {"type": ["integer", "null"], "minimum": 0},
                "reconnects": {"type": "integer", "minimum": 0},
            }
        ),
    }
    return schema


ID_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"


def page_of(key: str, item: str) -> Schema:
    """A page of history: the items, how many match in all, and the cursor of the next page."""
    return obj(
        {
            key: {"type": "array", "items": ref(item)},
            "total": {"type": "integer", "minimum": 0},
            "next_before": {"type": ["string", "null"]},
        }
    )


def name_text(example: str, pattern: str, what: str) -> Schema:
    """A bounded name: `what` is said in the error when the pattern does not match."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX,
        "pattern": pattern,
        "x-rule": f"{what} must be 1 to {NAME_MAX} characters of {_CHARACTERS[pattern]}",
        "example": example,
    }


_CHARACTERS = {
    EXCHANGE_PATTERN: "letters, digits and _ . -",
    SYMBOL_PATTERN: "letters, digits and / _ . -",
    ID_PATTERN: "letters, digits and _ . : -",
}


def exchange_text(example: str = "BINANCE") -> Schema:
    return name_text(example, EXCHANGE_PATTERN, "exchange")


def symbol_text(example: str = "BTC/USDT") -> Schema:
    return name_text(example, SYMBOL_PATTERN, "symbol")


def _price_level() -> Schema:
    return obj({"price": NUMBER, "quantity": NUMBER})


# The order request, derived from its one declaration (wire/orders.py), which the engine's
# entry and the client's pre-check enforce with the same sentence for each mistake.
ORDER_REQUEST: Schema = order_request_schema()

COMPONENTS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                }
            )
        },
        example={
            "error": {
                "code": "INVALID_PARAMETER",
                "message": "Invalid parameter value",
                "details": {"parameter": "price", "value": "-1.00"},
            }
        },
    ),
    "Order": obj(
        {
            "order_id": {"type": "string", "pattern": "^[0-9]+$", "example": "1000007"},
            "client_order_id": {"type": ["string", "null"]},
            "timestamp": TIMESTAMP,
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "type": {"type": "string", "enum": ["limit", "market"]},
            "time_in_force": {"type": "string", "enum": ["gtc", "ioc", "fok"]},
            "post_only": {"type": "boolean"},
            "quantity": NUMBER,
            "price": NULLABLE_NUMBER,
            "filled_quantity": NUMBER,
            "average_price": NULLABLE_NUMBER,
            "status": {"type": "string", "enum": ORDER_STATUSES},
            "reason": {"type": ["string", "null"], "enum": [*ORDER_REASONS, None]},
            "updated_at": TIMESTAMP,
        }
    ),
    "Fill": obj(
        {
            "trade_id": {"type": "string", "pattern": "^[0-9]+$"},
            "order_id": {"type": "string", "pattern": "^[0-9]+$"},
            "client_order_id": {"type": ["string", "null"]},
            "timestamp": TIMESTAMP,
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "price": NUMBER,
            "quantity": NUMBER,
            "fee": NUMBER,
            "fee_asset": {"type": "string"},
            "liquidity": {"type": "string", "enum": ["maker", "taker"]},
        }
    ),
    "MarketStatus": _market_status(),
    "Instrument": obj(
        {
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "base": {"type": "string"},
            "quote": {"type": "string"},
            "tick_size": NUMBER,
            "lot_size": NUMBER,
            "min_quantity": NUMBER,
            "min_notional": NULLABLE_NUMBER,
            "status": {"type": "string", "enum": ["open", "closed", "halted"]},
            "maker_fee": NUMBER,
            "taker_fee": NUMBER,
            "fee_source": {"type": "string", "enum": ["venue", "engine"]},
        }
    ),
    "PriceLevel": _price_level(),
    "OrderBook": obj(
        {
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "timestamp": TIMESTAMP,
            "sequence": {"type": "integer", "minimum": 0},
            "bids": {"type": "array", "items": ref("PriceLevel")},
            "asks": {"type": "array", "items": ref("PriceLevel")},
        }
    ),
    "Ticker": obj(
        {
            "timestamp": TIMESTAMP,
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "price": NULLABLE_NUMBER,
            "volume": NUMBER,
            "bid": NULLABLE_NUMBER,
            "ask": NULLABLE_NUMBER,
        }
    ),
    "Balance": obj(
        {"asset": {"type": "string"}, "total": NUMBER, "available": NUMBER, "locked": NUMBER}
    ),
    "Position": obj(
        {
            "exchange": {"type": "string"},
            "symbol": {"type": "string"},
            "quantity": NUMBER,
            "average_price": NULLABLE_NUMBER,
            "market_price": NULLABLE_NUMBER,
            "realized_pnl": NUMBER,
            "unrealized_pnl": NULLABLE_NUMBER,
            "pnl_asset": {"type": "string"},
        }
    ),
    "PositionsReport": obj(
        {
            "positions": {"type": "array", "items": ref("Position")},
            "totals": {
                "type": "array",
                "items": obj(
                    {
                        "asset": {"type": "string"},
                        "equity": NULLABLE_NUMBER,
                        "realized_pnl": NUMBER,
                        "unrealized_pnl": NULLABLE_NUMBER,
                    }
                ),
            },
        }
    ),
    "RiskLimits": obj(
        {
            "price_band_pct": NULLABLE_NUMBER,
            "max_order_notional": NULLABLE_NUMBER,
            "max_open_orders": {"type": ["integer", "null"]},
            "max_orders_per_second": {"type": ["integer", "null"]},
        }
    ),
    "CancelAfter": obj(
        {
            "current_time": TIMESTAMP,
            "trigger_time": {**TIMESTAMP, "type": ["string", "null"]},
            "timeout": {"type": "integer", "minimum": 0},
        }
    ),
    "Validation": obj(
        {
            "accepted": {"type": "boolean"},
            "replay": {"type": "boolean"},
            "order": ref("OrderPreview"),
            "estimate": {
                "type": ["object", "null"],
                "required": [
                    "notional",
                    "fee",
                    "fee_asset",
                    "locked",
                    "locked_asset",
                    "filled_quantity",
                    "average_price",
                    "fills",
                ],
                "properties": {
                    "notional": NUMBER,
                    "fee": NUMBER,
                    "fee_asset": {"type": "string"},
                    "locked": NUMBER,
                    "locked_asset": {"type": "string"},
                    "filled_quantity": NUMBER,
                    "average_price": NULLABLE_NUMBER,
                    "fills": {"type": "array", "items": ref("PriceLevel")},
                },
            },
        }
    ),
    "Strategy": {
        "type": "object",
        "required": ["strategy_id", "name", "description", "params"],
        "properties": {
            "strategy_id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "params": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Deployment": {
        "type": "object",
        "required": ["deployment_id", "strategy_id", "state"],
        "properties": {
            "deployment_id": {"type": "string"},
            "strategy_id": {"type": "string"},
            "state": {"type": "string"},
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "In a deploy's answer only: e.g. that the engine could not "
                "confine the strategy's code (docs/strategies.md, Confinement).",
            },
        },
    },
    "DeploymentLogs": obj(
        {
            "deployment_id": {"type": "string"},
            "state": {"type": "string"},
            "logs": {"type": "array", "items": {"type": "object"}},
            "next_since": {"type": "integer", "minimum": 0},
        }
    ),
    "Health": obj(
        {
            "service": {"type": "string", "enum": ["vmx-engine"]},
            "version": {"type": "string"},
            "pid": {"type": "integer"},
            "data_dir": {"type": ["string", "null"]},
        }
    ),
}

# A dry run's order: the Order as it would end up now; its order_id is null (unless a replay).
COMPONENTS["OrderPreview"] = {
    **COMPONENTS["Order"],
    "properties": {
        **COMPONENTS["Order"]["properties"],
        "order_id": {"type": ["string", "null"], "pattern": "^[0-9]+$"},
    },
}
