"""A fake Kraken spot venue, speaking Kraken's documented formats closely enough for unmodified
ccxt: REST `GET /0/public/Assets` and `GET /0/public/AssetPairs` (`pair_decimals`,
`lot_decimals`, `ordermin`, `costmin`, `tick_size`, fee schedules); WebSocket v2 at `/v2` with
`subscribe`/`unsubscribe` replies, the `book` channel (a snapshot, then updates, each carrying
the CRC32 of the top ten levels each side at the pair's decimals) and the `trade` channel (`side`
is the taker's; a snapshot of recent trades unless `snapshot: false`).

Point ccxt at it with the config a user writes in `--venue-config`: `config()`.
"""

from __future__ import annotations

import copy
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from tests.fakes.book import TrueBook
from tests.fakes.held_snapshots import HeldSnapshots
from tests.fakes.server import Connection, FakeServer


class Pair:
    def __init__(self, id: str, altname: str, ws: str, base: str, quote: str, **info: Any) -> None:
        self.id = id
        self.altname = altname
        self.ws = ws  # the v2 symbol: "BTC/USD"
        self.base = base
        self.quote = quote
        self.pair_decimals: int = info.get("pair_decimals", 1)
        self.lot_decimals: int = info.get("lot_decimals", 8)
        self.ordermin: str = info.get("ordermin", "0.00005")
        self.costmin: str = info.get("costmin", "0.5")
        self.tick_size: str = info.get("tick_size", "0.1")
        self.book = TrueBook()
        self.trades: list[dict[str, Any]] = []

    def checksum(self) -> int:
        parts: list[str] = []
        for side in ("ask", "bid"):
            for price, qty in self.book.sorted(side)[:10]:
                for value, places in ((price, self.pair_decimals), (qty, self.lot_decimals)):
                    parts.append(f"{value:.{places}f}".replace(".", "").lstrip("0"))
        return zlib.crc32("".join(parts).encode())


DEFAULT_PAIRS = (
    Pair("XXBTZUSD", "XBTUSD", "BTC/USD", "XXBT", "ZUSD"),
    Pair(
        "XETHZUSD", "ETHUSD", "ETH/USD", "XETH", "ZUSD",
        pair_decimals=2, lot_decimals=8, ordermin="0.002", costmin="0.5", tick_size="0.01",
    ),
)  # fmt: skip

ASSETS = {
    "XXBT": {"aclass": "currency", "altname": "XBT", "decimals": 10, "display_decimals": 5},
    "XETH": {"aclass": "currency", "altname": "ETH", "decimals": 10, "display_decimals": 5},
    "ZUSD": {"aclass": "currency", "altname": "USD", "decimals": 4, "display_decimals": 2},
}


class FakeKraken(HeldSnapshots[Pair]):
    def __init__(self, pairs: tuple[Pair, ...] | None = None) -> None:
        super().__init__()
        # (each fake its own copy of the defaults: their books are the venue's state)
        pairs = copy.deepcopy(DEFAULT_PAIRS) if pairs is None else pairs
        self.pairs = {p.ws: p for p in pairs}
        self.server = FakeServer(
            {"/0/public/Assets": self._assets, "/0/public/AssetPairs": self._asset_pairs},
            "/v2",
            self._on_message,
        )
        self.time = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
        self.trade_id = 900
        self.received: list[Any] = []

    def config(self) -> dict[str, Any]:
        """The `--venue-config` entry for `kraken` that points ccxt here. ccxt paces every
        request and subscription by Kraken's public limit (one a second); the fake allows one a
        millisecond so a test's resubscriptions do not wait."""
        http = self.server.http("")
        return {
            "rateLimit": 1,
            "urls": {
                "api": {"public": http, "private": http, "ws": {"publicV2": self.server.ws("/v2")}}
            },
        }

    async def __aenter__(self) -> FakeKraken:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    # -- REST ----------------------------------------------------------------------------

    def _assets(self, request: Request) -> Any:
        return {
            "error": [],
            "result": {
                k: {**v, "collateral_value": 1.0, "status": "enabled"} for k, v in ASSETS.items()
            },
        }

    def _asset_pairs(self, request: Request) -> Any:
        result = {}
        for p in self.pairs.values():
            result[p.id] = {
                "altname": p.altname,
                "wsname": p.ws.replace("BTC", "XBT"),
                "aclass_base": "currency",
                "base": p.base,
                "aclass_quote": "currency",
                "quote": p.quote,
                "lot": "unit",
                "cost_decimals": 5,
                "pair_decimals": p.pair_decimals,
                "lot_decimals": p.lot_decimals,
                "lot_multiplier": 1,
                "leverage_buy": [],
                "leverage_sell": [],
                "fees": [[0, 0.4], [10000, 0.35], [50000, 0.24]],
                "fees_maker": [[0, 0.25], [10000, 0.2], [50000, 0.14]],
                "fee_volume_currency": "ZUSD",
                "margin_call": 80,
                "margin_stop": 40,
                "ordermin": p.ordermin,
                "costmin": p.costmin,
                "tick_size": p.tick_size,
                "status": "online",
            }
        return {"error": [], "result": result}

    # -- WebSocket -----------------------------------------------------------------------

    def _now(self) -> str:
        self.time += timedelta(milliseconds=1)
        return self.time.isoformat().replace("+00:00", "Z")

    def _on_message(self, connection: Connection, message: Any) -> None:
        self.received.append(message)
        method = message.get("method")
        if method == "ping":
            connection.send(
                {
                    "method": "pong",
                    "req_id": message.get("req_id"),
                    "time_in": self._now(),
                    "time_out": self._now(),
                }
            )
            return
        if method not in ("subscribe", "unsubscribe"):
            return
        params = message.get("params", {})
        channel = params.get("channel")
        for symbol in params.get("symbol", []):
            pair = self.pairs.get(symbol)
            if pair is None or channel not in ("book", "trade"):
                connection.send(
                    {
                        "error": f"Currency pair not supported {symbol}",
                        "method": method,
                        "req_id": message.get("req_id"),
                        "success": False,
                        "symbol": symbol,
                        "time_in": self._now(),
                        "time_out": self._now(),
                    }
                )
                continue
            topic = f"{channel}:{symbol}"
            result: dict[str, Any] = {"channel": channel, "symbol": symbol}
            held = self.holding and method == "subscribe" and channel == "book"
            if method == "unsubscribe":
                connection.topics.discard(topic)
                self.held = [(c, p) for c, p in self.held if (c, p) != (connection, pair)]
            elif held:
                self.held.append((connection, pair))  # served by `release_snapshots`
            else:
                connection.topics.add(topic)
            if method == "subscribe" and channel == "book":
                result.update(depth=params.get("depth", 10), snapshot=True)
            connection.send(
                {
                    "method": method,
                    "req_id": message.get("req_id"),
                    "result": result,
                    "success": True,
                    "time_in": self._now(),
                    "time_out": self._now(),
                }
            )
            if method == "subscribe" and channel == "book" and not held:
                self._send_snapshot(connection, pair)
            if (
                method == "subscribe"
                and channel == "trade"
                and params.get("snapshot", True)
                and pair.trades
            ):
                connection.send({"channel": "trade", "type": "snapshot", "data": pair.trades[-50:]})

    def _send_snapshot(self, connection: Connection, pair: Pair) -> None:
        connection.send(
            self._book_message(pair, "snapshot", pair.book.sorted("bid"), pair.book.sorted("ask"))
        )

    def _book_message(
        self, pair: Pair, kind: str, bids: Any, asks: Any, checksum: int | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "symbol": pair.ws,
            "bids": [{"price": float(p), "qty": float(q)} for p, q in bids],
            "asks": [{"price": float(p), "qty": float(q)} for p, q in asks],
            "checksum": pair.checksum() if checksum is None else checksum,
        }
        if kind == "update":
            data["timestamp"] = self._now()
        return {"channel": "book", "type": kind, "data": [data]}

    # -- what a test drives --------------------------------------------------------------

    def set_levels(
        self, symbol: str, bids: Any = (), asks: Any = (), *, bad_checksum: bool = False
    ) -> None:
        """Change levels (price, total size; 0 removes) as one update; `bad_checksum` sends it
        with a checksum that does not match the book it leaves."""
        pair = self.pairs[symbol]
        b = [pair.book.set("bid", p, q) for p, q in bids]
        a = [pair.book.set("ask", p, q) for p, q in asks]
        checksum = (pair.checksum() + 1) % (1 << 32) if bad_checksum else None
        self.server.publish(f"book:{symbol}", self._book_message(pair, "update", b, a, checksum))

    def trade(self, symbol: str, price: str, qty: str, taker_side: str) -> None:
        pair = self.pairs[symbol]
        self.trade_id += 1
        trade = {
            "symbol": symbol,
            "side": taker_side,
            "price": float(Decimal(price)),
            "qty": float(Decimal(qty)),
            "ord_type": "limit",
            "trade_id": self.trade_id,
            "timestamp": self._now(),
        }
        pair.trades.append(trade)
        self.server.publish(
            f"trade:{symbol}", {"channel": "trade", "type": "update", "data": [trade]}
        )

    def book(self, symbol: str) -> dict[str, dict[Decimal, Decimal]]:
        return self.pairs[symbol].book.plain()

    def _serve_book(self, connection: Connection, pair: Pair) -> None:
        connection.topics.add(f"book:{pair.ws}")
        self._send_snapshot(connection, pair)
