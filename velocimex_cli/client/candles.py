"""Live candles on the client: the engine's stored candles (fetched once), then every trade of
the instrument from the market stream folded in (the newest candle grows, a new period starts a
new candle), as `vmx candles --watch` and the price pane of `vmx watch` show them.

A trade is folded into the candle of its own period (from its timestamp, UTC, aligned to the
Unix epoch as the engine aligns them); one older than the oldest candle held is ignored. Trades
that printed between the fetch and the stream's start are not in the live candle (the next
fetch has them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.candles import INTERVALS
from velocimex_cli.wire.numbers import parse_decimal
from velocimex_cli.wire.timefmt import iso, parse_iso


def period_start(timestamp: str, interval: str) -> str | None:
    """The ISO open time of the `interval` period holding `timestamp`; None if unreadable."""
    try:
        moment = parse_iso(timestamp)
    except (TypeError, ValueError):
        return None
    width = INTERVALS[interval]
    seconds = int(moment.timestamp()) // width * width
    return iso(datetime.fromtimestamp(seconds, UTC))


class LiveCandles:
    """One instrument's candles at one interval, oldest first, at most `keep` of them."""

    def __init__(self, exchange: str, symbol: str, interval: str, keep: int) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.interval = interval
        self.keep = keep
        self.candles: list[dict[str, Any]] = []

    def load(self, answer: dict[str, Any]) -> None:
        """The candles route's answer (its `candles`, oldest first)."""
        self.candles = [dict(c) for c in answer.get("candles", [])][-self.keep :]

    def apply(self, message: dict[str, Any]) -> bool:
        """Fold in a `trade` message of this instrument; True when a candle changed."""
        if (
            message.get("type") != "trade"
            or message.get("exchange") != self.exchange
            or message.get("symbol") != self.symbol
        ):
            return False
        price = parse_decimal(message.get("price"))
        quantity = parse_decimal(message.get("quantity"))
        start = period_start(str(message.get("timestamp", "")), self.interval)
        if price is None or quantity is None or start is None:
            return False
        candles = self.candles
        for candle in reversed(candles):
            if candle.get("time") == start:
                _add(candle, price, quantity)
                return True
            if str(candle.get("time", "")) < start:
                break
        if candles and start < str(candles[0].get("time", "")):
            return False  # older than everything held
        fresh = {"time": start, "open": price, "high": price, "low": price, "close": price,
                 "volume": quantity, "quote_volume": price * quantity, "trades": 1}  # fmt: skip
        candles.append(fresh)
        candles.sort(key=lambda c: str(c.get("time", "")))
        del candles[: max(0, len(candles) - self.keep)]
        return True


def _add(candle: dict[str, Any], price: Decimal, quantity: Decimal) -> None:
    high, low = parse_decimal(candle.get("high")), parse_decimal(candle.get("low"))
    candle["high"] = price if high is None else max(high, price)
    candle["low"] = price if low is None else min(low, price)
    candle["close"] = price
    candle["volume"] = (parse_decimal(candle.get("volume")) or Decimal(0)) + quantity
    quote = parse_decimal(candle.get("quote_volume")) or Decimal(0)
    candle["quote_volume"] = quote + price * quantity
    trades = candle.get("trades")
    candle["trades"] = (trades if isinstance(trades, int) else 0) + 1
