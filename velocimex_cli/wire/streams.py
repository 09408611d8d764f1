"""The WebSocket messages of /v1/ws/market and /v1/ws/orders, written once for engine and client.

Every server message is a JSON object with a `type`; every client message has an `action`.
Each shape (the API reference's, docs/api.md) is built by one plain function below: nothing
here validates at run time, so the engine's fan-out and the client's per-message path stay
free of pydantic.

The book checksum (an extension, after Kraken's book channel): every `book_snapshot` and
`book_delta` carries `checksum`, the CRC32 of the canonical text of the book's top
`CHECKSUM_DEPTH` levels after the message is applied:

    for each of the 10 best asks (lowest first), then each of the 10 best bids (highest first):
        price text + quantity text
    where a number's text is its wire form (the instrument's tick or lot digits) in plain
    notation with the decimal point removed and leading zeros stripped ("0.00100" -> "100",
    "60013.81" -> "6001381")

and `checksum = zlib.crc32(text.encode("ascii"))`, an unsigned 32-bit integer.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

CHANNELS = ("ticker", "book", "trades")
CHECKSUM_DEPTH = 10

# Close codes the engine uses (RFC 6455 and IANA registry).
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN_LATER = 1013


# ---------------------------------------------------------------------------- server messages
def ticker_message(ticker: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ticker", **ticker}


def trade_message(trade: dict[str, Any]) -> dict[str, Any]:
    return {"type": "trade", **trade}


def book_snapshot_message(book: dict[str, Any]) -> dict[str, Any]:
    """A book as `GET /orderbook` answers it, as a snapshot message with its checksum."""
    bids, asks = book["bids"], book["asks"]
    return {
        "type": "book_snapshot",
        **book,
        "checksum": book_checksum(
            [(b["price"], b["quantity"]) for b in bids[:CHECKSUM_DEPTH]],
            [(a["price"], a["quantity"]) for a in asks[:CHECKSUM_DEPTH]],
        ),
    }


def book_delta_message(
    exchange: str,
    symbol: str,
    sequence: int,
    timestamp: str,
    changes: list[dict[str, Any]],
    checksum: int,
) -> dict[str, Any]:
    return {
        "type": "book_delta",
        "exchange": exchange,
        "symbol": symbol,
        "sequence": sequence,
        "timestamp": timestamp,
        "changes": changes,
        "checksum": checksum,
    }


def book_status_message(
    exchange: str, symbol: str, valid: bool, reason: str | None, timestamp: str
) -> dict[str, Any]:
    """(extension) On the book channel of a mirrored exchange: whether the engine's book is a
    true copy of the venue's (`valid`), and if not why (`reason`: the feed is down or
    resyncing). Sent when it changes, and after a subscription's snapshot while it is not
    valid; a `book_snapshot` follows once the feed is whole again."""
    return {
        "type": "book_status",
        "exchange": exchange,
        "symbol": symbol,
        "valid": valid,
        "reason": reason,
        "timestamp": timestamp,
    }


def order_message(event: str, order: dict[str, Any]) -> dict[str, Any]:
    """The Order's own `type` (limit/market) travels as `order_type` (it would collide)."""
    body = {"type": "order", "event": event, **order}
    body["type"] = "order"
    body["order_type"] = order.get("type")
    return body


def fill_message(fill: dict[str, Any]) -> dict[str, Any]:
    return {"type": "fill", **fill}


def subscribed_message(
    action: str, channels: Sequence[str], instruments: Sequence[str]
) -> dict[str, Any]:
    kind = "subscribed" if action == "subscribe" else "unsubscribed"
    return {"type": kind, "channels": list(channels), "instruments": list(instruments)}


def authenticated_message(account: str) -> dict[str, Any]:
    return {"type": "authenticated", "account": account}


def pong_message() -> dict[str, Any]:
    return {"type": "pong"}


def error_message(body: dict[str, Any]) -> dict[str, Any]:
    """`body` is an API error body: {"error": {"code", "message", "details"}}."""
    return {"type": "error", **body}


# ---------------------------------------------------------------------------- client messages
def subscribe_action(
    action: Literal["subscribe", "unsubscribe"],
    channels: Sequence[str] | None = None,
    instruments: Sequence[str] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"action": action}
    if channels is not None:
        message["channels"] = list(channels)
    if instruments is not None:
        message["instruments"] = list(instruments)
    return message


def auth_action(api_key: str, api_secret: str) -> dict[str, Any]:
    return {"action": "auth", "api_key": api_key, "api_secret": api_secret}


def ping_action() -> dict[str, Any]:
    return {"action": "ping"}


# ---------------------------------------------------------------------------- checksum
def canonical_number(value: Decimal | str | int) -> str:
    """A wire number's checksum text: plain notation, no decimal point, no leading zeros."""
    # An int (a JSON number without a fraction) or the number's text is taken as it is.
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text.replace(".", "").lstrip("0") or "0"


def checksum_text(
    bids: Iterable[tuple[Any, Any]], asks: Iterable[tuple[Any, Any]], depth: int = CHECKSUM_DEPTH
) -> str:
    """The canonical text of a book's top levels (best first on each side): asks, then bids."""
    parts: list[str] = []
    for side in (asks, bids):
        for i, (price, quantity) in enumerate(side):
            if i >= depth:
                break
            parts.append(canonical_number(price))
            parts.append(canonical_number(quantity))
    return "".join(parts)


def book_checksum(bids: Iterable[tuple[Any, Any]], asks: Iterable[tuple[Any, Any]]) -> int:
    """CRC32 of `checksum_text`; levels are (price, quantity) pairs, best first."""
    return zlib.crc32(checksum_text(bids, asks).encode("ascii"))


def scaled_multiplier(step: Decimal) -> int:
    """For a tick or lot size: what one step is worth in the checksum's digit units
    (0.01 -> 1, 0.05 -> 5, 0.5 -> 5, 1 -> 1), so `steps * multiplier` is the number's
    canonical text as an integer."""
    exponent = step.as_tuple().exponent
    assert isinstance(exponent, int)
    return int(step.scaleb(max(0, -exponent)))


def book_checksum_scaled(
    bids: Sequence[tuple[int, int]],
    asks: Sequence[tuple[int, int]],
    price_multiplier: int,
    quantity_multiplier: int,
) -> int:
    """`book_checksum` from integer ticks and lots (the engine's book), without Decimals."""
    parts: list[str] = []
    for side in (asks, bids):
        for ticks, lots in side[:CHECKSUM_DEPTH]:
            parts.append(str(ticks * price_multiplier))
            parts.append(str(lots * quantity_multiplier))
    return zlib.crc32("".join(parts).encode("ascii"))
