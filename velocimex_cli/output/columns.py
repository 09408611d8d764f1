"""The fields of each record the API returns, in the API's order: the CSV header of a list.

A CSV of an empty list still starts with its header, so a script reading it by column name
works whether or not there were rows. Fields a server adds beyond these follow them.
"""

from __future__ import annotations

from typing import Any

from velocimex_cli.wire.candles import CANDLE_FIELDS

ORDER_FIELDS = (
    "order_id", "client_order_id", "timestamp", "exchange", "symbol", "side", "type",
    "time_in_force", "post_only", "quantity", "price", "filled_quantity", "average_price",
    "status", "reason", "updated_at",
)  # fmt: skip
FILL_FIELDS = (
    "trade_id", "order_id", "client_order_id", "timestamp", "exchange", "symbol", "side",
    "price", "quantity", "fee", "fee_asset", "liquidity",
)  # fmt: skip
MARKET_STATUS_FIELDS = ("exchange", "status", "last_update")
MARKET_FIELDS = (
    "exchange", "symbol", "base", "quote", "tick_size", "lot_size", "min_quantity",
    "min_notional", "status", "maker_fee", "taker_fee", "fee_source",
)  # fmt: skip
BALANCE_FIELDS = ("asset", "total", "available", "locked")
POSITION_FIELDS = (
    "exchange", "symbol", "quantity", "average_price", "market_price", "realized_pnl",
    "unrealized_pnl", "pnl_asset",
)  # fmt: skip
TICKER_FIELDS = ("timestamp", "exchange", "symbol", "price", "volume", "bid", "ask")
BOOK_LEVEL_FIELDS = ("side", "price", "quantity")
STRATEGY_FIELDS = ("strategy_id", "name", "description", "params", "kind")
DEPLOYMENT_FIELDS = (
    "deployment_id", "strategy_id", "exchange", "symbol", "account", "state", "params",
    "open_orders", "started_at", "stopped_at", "stop_reason", "last_error", "orders",
    "rejected_orders", "fills", "volume", "fees", "realized_pnl", "unrealized_pnl", "positions",
    "logs", "callbacks",
)  # fmt: skip
LOG_FIELDS = ("sequence", "timestamp", "level", "message")
# One line of `order place --file`: its number, what happened, the order, or the error.
BATCH_FIELDS = ("line", "result", *ORDER_FIELDS, "error_code", "error_message")

# A list payload's key -> its records' fields (`markets` is the instrument list; the status
# command names its own fields).
BY_LIST_KEY: dict[str, tuple[str, ...]] = {
    "orders": ORDER_FIELDS,
    "fills": FILL_FIELDS,
    "markets": MARKET_FIELDS,
    "balances": BALANCE_FIELDS,
    "positions": POSITION_FIELDS,
    "tickers": TICKER_FIELDS,
    "levels": BOOK_LEVEL_FIELDS,
    "strategies": STRATEGY_FIELDS,
    "deployments": DEPLOYMENT_FIELDS,
    "logs": LOG_FIELDS,
    "candles": CANDLE_FIELDS,
}


def list_key(data: Any) -> str | None:
    """The key of a payload's records: its only key holding a list, or else its one known
    list key beside metadata (`{"orders": [...], "total": 114, "next_before": "…"}`)."""
    if not isinstance(data, dict):
        return None
    lists = [key for key, value in data.items() if isinstance(value, list)]
    if len(data) == 1 and lists:
        return lists[0]
    known = [key for key in lists if key in BY_LIST_KEY]
    return known[0] if len(known) == 1 else None


def columns_for(data: Any) -> tuple[str, ...]:
    """The known fields of a payload's records (empty when the payload is not a known list)."""
    key = list_key(data)
    return BY_LIST_KEY.get(key, ()) if key is not None else ()
