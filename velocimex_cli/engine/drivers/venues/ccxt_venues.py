"""What differs per venue in ccxt: the deepest book each serves, how its book and trade
subscriptions are named, the checks that tell its book cannot be trusted, and the constructor
config a user's `--venue-config` entry is merged into.

The checks (ccxt_source.py's docstring says what the source does when one fails):
- Binance: a diff whose first update id `U` is not the last `u` + 1 (ccxt's own check; the
  reason names both ids, kept in `vmx_reasons` for the book loop); ccxt resubscribes and
  fetches a new snapshot.
- Kraken: the CRC32 of the top ten levels each side (v2 `book` channel, prices and quantities at
  the pair's decimals) differs from the one the venue sent (ccxt 4.5 ships this check disabled
  and broken for float books, so it is done here); the symbol is unsubscribed and subscribed
  again for a new snapshot.
- Coinbase: a `sequence_num` that skips one on the connection (ccxt does not check it); the
  connection is closed and every subscription on it starts again from a snapshot.
Historical trades a venue replays on subscribing (Kraken's and Coinbase's trade snapshots) are
not asked for or are skipped: only trades printed while mirroring reach the source.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import ccxt.pro as ccxtpro
from ccxt.async_support.base.ws.order_book import OrderBook
from ccxt.base.errors import ChecksumError, NetworkError

from velocimex_cli.engine.drivers.venues.ccxt_book import NotingBook, dec
from velocimex_cli.engine.drivers.venues.feed import VenueUnavailable

# The deepest book each venue serves on its public stream; None: the venue's whole book.
FULL_DEPTH: dict[str, int | None] = {"binance": 5000, "kraken": 1000, "coinbase": None}
# ccxt's client subscription hashes of a symbol's book and trades, per venue (to find their
# connections).
BOOK_HASH: dict[str, str] = {
    "binance": "orderbook::{}",
    "kraken": "orderbook@{}",
    "coinbase": "level2::{}",
}
TRADE_HASH: dict[str, str] = {
    "binance": "trade::{}",
    "kraken": "trade@{}",
    "coinbase": "market_trades::{}",
}
# The question that asks a venue whose trades have a connection of their own which streams that
# connection carries (ccxt_watchdog.py), by request id; its answer's `result` lists them.
TRADE_PROBE: dict[str, Callable[[int], dict[str, Any]]] = {
    "binance": lambda request_id: {"method": "LIST_SUBSCRIPTIONS", "id": request_id},
}
UNANSWERED = object()  # a probe's entry in `vmx_probes` until its answer arrives
# The keys by which ccxt 4.5's Binance `handle_message` tells a message that is not a plain
# stream event (a combined stream's or the WebSocket API's wrapper, an error or status, a
# request's answer or a subscription's own method): a `depthUpdate` with none of them goes
# straight to `handle_order_book`, as ccxt's dispatch would send it.
BINANCE_WRAPPERS = frozenset(("stream", "event", "data", "status", "error", "id"))


def kraken_checksum(book: OrderBook, price_decimals: int, qty_decimals: int) -> int:
    """Kraken v2's book checksum: CRC32 of the top ten asks then the top ten bids, each price and
    quantity at the pair's decimals with the point and leading zeros removed."""
    parts: list[str] = []
    for side in (book["asks"], book["bids"]):
        for price, qty, *_ in side[:10]:
            for value, places in ((price, price_decimals), (qty, qty_decimals)):
                parts.append(f"{dec(value):.{places}f}".replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


def exchange_class(venue: str) -> type[Any]:
    """ccxt's exchange class for `venue`, with the hooks the source needs."""
    try:
        base: type[Any] = getattr(ccxtpro, venue)
    except AttributeError:
        raise VenueUnavailable(
            f"{venue} is not an exchange ccxt {ccxtpro.__version__} streams (ccxt.pro)"
        ) from None

    class Mirrored(base):
        vmx_reasons: dict[str, str]
        vmx_sequence: dict[str, int]
        vmx_symbols: dict[tuple[str, str], str]  # (Binance) (market id, kind)'s symbol
        vmx_probes: dict[tuple[str, int], Any]  # a trade probe's (url, request id) -> its answer

        def order_book(self, snapshot: Any = None, depth: int | None = None) -> OrderBook:
            return NotingBook(snapshot, depth)

        # ccxt stamps every book message with this text (`datetime`), which the source never
        # reads: the same text, its date and time of day made once a second.
        iso8601 = staticmethod(iso8601_by_second(base.iso8601))

        if venue == "binance":

            def handle_message(self, client: Any, message: Any) -> None:
                if type(message) is dict:
                    probes = self.vmx_probes
                    if probes:
                        # (request ids count per url: another connection's may be the same)
                        key = (client.url, message.get("id"))
                        if key in probes:
                            probes[key] = message.get("result")  # a probe's answer
                            return
                    if message.get("e") == "depthUpdate" and message.keys().isdisjoint(
                        BINANCE_WRAPPERS
                    ):
                        # ccxt's dispatch would pick this same handler, after building a table
                        # of its 35 handlers and looking for wrappers a plain diff lacks: a
                        # third of its cost of a diff (see BINANCE_WRAPPERS)
                        self.handle_order_book(client, message)
                        return
                super().handle_message(client, message)

            def vmx_trade_stream(self, symbol: str) -> str:
                """The name of `symbol`'s trade stream (as LIST_SUBSCRIPTIONS lists it)."""
                return f"{self.market(symbol)['lowercaseId']}@trade"

            def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
                market_id = message.get("s")
                # the symbol ccxt finds for the market id, by the kind of market the url serves
                kind = "spot" if self.is_spot_url(client) else "swap"
                symbol = None
                if isinstance(market_id, str):
                    symbol = self.vmx_symbols.get((market_id, kind))
                if symbol is None:
                    symbol = self.safe_market(market_id, None, None, kind)["symbol"]
                    if isinstance(market_id, str) and market_id in self.markets_by_id:
                        self.vmx_symbols[(market_id, kind)] = symbol
                book = self.orderbooks.get(symbol)
                first = message.get("U")
                nonce = None if book is None else book["nonce"]
                if first is not None and nonce is not None and message.get("u", 0) > nonce:
                    # ccxt's own continuity rule: the first diff after a snapshot must span
                    # it, each later one start right after the last
                    synced = book["timestamp"] is not None
                    if (first - 1 != nonce) if synced else (first - 1 > nonce):
                        self.vmx_reasons[symbol] = f"sequence gap: update {first} after {nonce}"
                    elif synced and self.vmx_next_diff(client, message, symbol, book, nonce):
                        return
                super().handle_order_book(client, message)

            def vmx_next_diff(
                self, client: Any, message: dict[str, Any], symbol: str, book: Any, nonce: Any
            ) -> bool:
                """Apply a spot diff that follows the synced book's last one as ccxt 4.5's
                `handle_order_book` does (its levels, asks first, as floats; nonce, time and
                ISO time; the book's future resolved) without its lookups, which cost as much
                as the levels; False (nothing done) for anything but such a diff in plain
                form (ints, lists of [price, size] texts), which ccxt then handles."""
                first, last, stamp = message["U"], message.get("u"), message.get("E")
                asks, bids = message.get("a"), message.get("b")
                if (
                    type(first) is not int
                    or type(last) is not int
                    or type(nonce) is not int
                    or type(stamp) is not int
                    or type(asks) is not list
                    or type(bids) is not list
                    or "pu" in message  # (a futures diff: ccxt's other rule)
                ):
                    return False
                try:
                    ask_levels = [[float(price), float(size)] for price, size in asks]
                    bid_levels = [[float(price), float(size)] for price, size in bids]
                except (TypeError, ValueError):
                    return False
                for side, levels in ((book["asks"], ask_levels), (book["bids"], bid_levels)):
                    for level in levels:
                        side.storeArray(level)
                book["nonce"] = last
                book["timestamp"] = stamp
                book["datetime"] = self.iso8601(stamp)
                client.resolve(book, BOOK_HASH["binance"].format(symbol))
                return True

        if venue == "kraken":

            def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
                super().handle_order_book(client, message)
                data = message.get("data") or [{}]
                first = data[0]
                symbol = first.get("symbol")
                expected = first.get("checksum")
                book = self.orderbooks.get(symbol)
                if book is None or expected is None or symbol not in self.markets:
                    return
                info = self.markets[symbol]["info"]
                got = kraken_checksum(book, int(info["pair_decimals"]), int(info["lot_decimals"]))
                if got != expected:
                    book.failure = f"checksum mismatch: the book's CRC32 is {got}, {expected} sent"
                    hash_ = BOOK_HASH["kraken"].format(symbol)
                    client.subscriptions.pop(hash_, None)
                    del self.orderbooks[symbol]
                    unsubscribe = {
                        "method": "unsubscribe",
                        "params": {"channel": "book", "symbol": [symbol]},
                        "req_id": self.request_id(),
                    }
                    background(self, client.send(unsubscribe))

            def watch_trades(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
                # Kraken replays its last 50 trades on subscribing unless told not to.
                return super().watch_trades(symbol, None, None, {"snapshot": False})

        if venue == "coinbase":

            def handle_message(self, client: Any, message: Any) -> None:
                sequence = message.get("sequence_num") if isinstance(message, dict) else None
                if sequence is not None:
                    last = self.vmx_sequence.get(client.url)
                    if last is not None and sequence != last + 1:
                        self.vmx_sequence.pop(client.url, None)
                        drop_client(self, client, f"sequence gap: message {sequence} after {last}")
                        return
                    self.vmx_sequence[client.url] = sequence
                super().handle_message(client, message)

            def on_connected(self, client: Any, message: Any = None) -> None:
                self.vmx_sequence.pop(client.url, None)
                super().on_connected(client, message)

            def handle_trade(self, client: Any, message: dict[str, Any]) -> None:
                # Coinbase sends recent trades as a `snapshot` event on subscribing: skip them.
                events = [e for e in message.get("events") or [] if e.get("type") != "snapshot"]
                if events:
                    super().handle_trade(client, {**message, "events": events})

    Mirrored.__name__ = f"Mirrored_{venue}"
    return Mirrored


def iso8601_by_second(iso8601: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """ccxt's `iso8601` (milliseconds since the epoch as ISO-8601 text, None for what it does not
    take), its text up to the second made once per second: the same text, cheaper."""
    last: list[Any] = [None, ""]  # the second last made, its text

    def by_second(timestamp: Any = None) -> str | None:
        if type(timestamp) is not int or timestamp < 0:
            return iso8601(timestamp)
        seconds, millis = divmod(timestamp, 1000)
        if seconds != last[0]:
            whole = iso8601(seconds * 1000)
            if whole is None:
                return None
            last[0], last[1] = seconds, whole[:-4]  # less "000Z"
        return f"{last[1]}{millis:03d}Z"

    return by_second


def subscribed_client(exchange: Any, subscription: str) -> Any:
    """ccxt's connection that carries `subscription` (a subscription hash), or None."""
    for client in list((exchange.clients or {}).values()):
        if subscription in client.subscriptions:
            return client
    return None


def book_client(exchange: Any, client: Any, message_hash: str) -> bool:
    """Whether `client` (the connection a book was last read from) still carries the book's
    subscription, open and current, so the next update can be awaited on it directly
    (`client.future`): what ccxt's `watch_order_book` awaits once it has checked the
    subscription, the connection and the options, per call."""
    return (
        client is not None
        and message_hash in client.subscriptions
        and exchange.clients.get(client.url) is client
        and client.error is None
        and not client.closed()
    )


def background(exchange: Any, work: Awaitable[Any]) -> None:
    """Run `work` without waiting for it, keeping the task referenced until it ends."""
    task = asyncio.ensure_future(work)
    exchange.vmx_tasks.add(task)
    task.add_done_callback(exchange.vmx_tasks.discard)


class FeedFault(NetworkError):
    """A fault the source found on a connection; its text is the FeedDown reason."""


def drop_client(exchange: Any, client: Any, reason: str) -> None:
    """Fail every watch on `client` with `reason` and close it; the next watch opens a new
    connection and subscribes again (a fresh snapshot)."""
    fault = FeedFault(reason)
    client.reject(fault)
    # marked failed, the old client's close does not unregister its successor on the same url
    client.error = fault
    if exchange.clients.get(client.url) is client:
        del exchange.clients[client.url]
    background(exchange, client.close())


def merged_config(venue: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """ccxt's constructor config: the source's defaults, then the user's entry; spot only."""
    merged: dict[str, Any] = {"enableRateLimit": True, "newUpdates": True}
    for key, value in config.items():
        merged[key] = value
    options = dict(merged.get("options") or {})
    if venue == "binance":
        # spot only: never the futures or options market lists
        fetch = dict(options.get("fetchMarkets") or {})
        fetch["types"] = ["spot"]
        options["fetchMarkets"] = fetch
    merged["options"] = options
    return merged


def reason_of(exc: BaseException) -> str:
    """The FeedDown reason a ccxt (or network) error gives."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, FeedFault):
        return text
    if isinstance(exc, ChecksumError):
        return f"book out of sync: {text}"
    if isinstance(exc, NetworkError | OSError):  # ccxt's, or aiohttp's reset while sending
        return f"connection lost: {text}"
    return f"{type(exc).__name__}: {text}"
