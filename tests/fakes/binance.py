"""A fake Binance spot venue, speaking Binance's documented formats closely enough for unmodified
ccxt: REST `GET /api/v3/exchangeInfo` (PRICE_FILTER, LOT_SIZE, NOTIONAL filters) and
`GET /api/v3/depth` (a snapshot with `lastUpdateId`); WebSocket `/ws/<n>` with `SUBSCRIBE`
replies (`{"result": null, "id": n}`), `LIST_SUBSCRIPTIONS` replies (`{"result": [streams], "id":
n}`), `depthUpdate` diffs numbered `U`..`u`, and `trade` events (`m`: the buyer is the maker, so
the seller was the aggressor). Besides the faults every fake has: `stall_trades()`.

Point ccxt at it with the config a user writes in `--venue-config`: `config()`.
"""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.fakes.book import TrueBook
from tests.fakes.server import Connection, FakeServer

EPOCH_MS = 1_795_000_000_000


class Market:
    def __init__(
        self, symbol: str, base: str, quote: str, tick: str, step: str, min_qty: str, notional: str
    ) -> None:
        self.id = symbol
        self.base = base
        self.quote = quote
        self.tick = tick
        self.step = step
        self.min_qty = min_qty
        self.min_notional = notional
        self.book = TrueBook()
        self.update_id = 1000  # the last update id the venue has applied


DEFAULT_MARKETS = (
    Market("BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000", "0.00001000", "5.00000000"),
    Market("ETHUSDT", "ETH", "USDT", "0.01000000", "0.00010000", "0.00010000", "5.00000000"),
)


class FakeBinance:
    def __init__(self, markets: tuple[Market, ...] | None = None) -> None:
        # (each fake its own copy of the defaults: their books are the venue's state)
        markets = copy.deepcopy(DEFAULT_MARKETS) if markets is None else markets
        self.markets = {m.id: m for m in markets}
        self.server = FakeServer(
            {"/api/v3/exchangeInfo": self._exchange_info, "/api/v3/depth": self._depth},
            "/ws/{stream}",
            self._on_message,
        )
        self.time_ms = EPOCH_MS
        self.trade_id = 5000
        self.received: list[Any] = []  # every WebSocket request, in order
        self.rest_delay = 0.0  # seconds each REST answer waits (a slow venue)

    def config(self) -> dict[str, Any]:
        """The `--venue-config` entry for `binance` that points ccxt here. ccxt paces REST calls
        by Binance's request weights (a 5,000-level snapshot weighs 250, 12.5 s of its budget);
        the fake allows them 1 ms a unit so a test's resyncs do not wait."""
        return {
            "rateLimit": 1,
            "urls": {
                "api": {
                    "public": self.server.http("/api/v3"),
                    "ws": {"spot": self.server.ws("/ws")},
                }
            },
        }

    async def __aenter__(self) -> FakeBinance:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    # -- REST ----------------------------------------------------------------------------

    async def _exchange_info(self, request: Request) -> Any:
        await asyncio.sleep(self.rest_delay)
        return {
            "timezone": "UTC",
            "serverTime": self.time_ms,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [self._symbol_info(m) for m in self.markets.values()],
        }

    def _symbol_info(self, m: Market) -> dict[str, Any]:
        return {
            "symbol": m.id,
            "status": "TRADING",
            "baseAsset": m.base,
            "baseAssetPrecision": 8,
            "quoteAsset": m.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": [
                "LIMIT",
                "LIMIT_MAKER",
                "MARKET",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT_LIMIT",
            ],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": m.tick,
                    "maxPrice": "1000000.00000000",
                    "tickSize": m.tick,
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": m.min_qty,
                    "maxQty": "9000.00000000",
                    "stepSize": m.step,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": m.min_notional,
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _depth(self, request: Request) -> Any:
        market = self.markets.get(request.query_params.get("symbol", ""))
        if market is None:
            return JSONResponse({"code": -1121, "msg": "Invalid symbol."}, status_code=400)
        limit = int(request.query_params.get("limit", "100"))
        return {
            "lastUpdateId": market.update_id,
            "bids": [[str(p), str(q)] for p, q in market.book.sorted("bid")[:limit]],
            "asks": [[str(p), str(q)] for p, q in market.book.sorted("ask")[:limit]],
        }

    # -- WebSocket -----------------------------------------------------------------------

    def _on_message(self, connection: Connection, message: Any) -> None:
        method = message.get("method")
        self.received.append(message)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            for stream in message.get("params", []):
                if method == "SUBSCRIBE":
                    connection.topics.add(stream.split("@")[0] + "@" + stream.split("@")[1])
                else:
                    connection.topics.discard(stream.split("@")[0] + "@" + stream.split("@")[1])
            connection.send({"result": None, "id": message.get("id")})
        elif method == "LIST_SUBSCRIPTIONS":
            connection.send({"result": sorted(connection.topics), "id": message.get("id")})

    # -- what a test drives --------------------------------------------------------------

    def set_levels(
        self, symbol: str, bids: Any = (), asks: Any = (), *, publish: bool = True
    ) -> None:
        """Change levels (price, total size; size 0 removes) as one update; `publish=False`
        changes the true book without telling anyone (the update a sequence gap loses)."""
        market = self.markets[symbol]
        b = [market.book.set("bid", p, q) for p, q in bids]
        a = [market.book.set("ask", p, q) for p, q in asks]
        first = market.update_id + 1
        market.update_id += 1
        self.time_ms += 1
        if publish:
            self.server.publish(
                f"{symbol.lower()}@depth",
                {
                    "e": "depthUpdate",
                    "E": self.time_ms,
                    "s": symbol,
                    "U": first,
                    "u": market.update_id,
                    "b": [[str(p), str(q)] for p, q in b],
                    "a": [[str(p), str(q)] for p, q in a],
                },
            )

    def gap(self, symbol: str, bids: Any = (), asks: Any = ()) -> None:
        """A sequence gap: an update applied at the venue that no client receives."""
        self.set_levels(symbol, bids, asks, publish=False)

    def trade(self, symbol: str, price: str, qty: str, taker_side: str) -> int:
        self.trade_id += 1
        self.time_ms += 1
        self.server.publish(
            f"{symbol.lower()}@trade",
            {
                "e": "trade",
                "E": self.time_ms,
                "s": symbol,
                "t": self.trade_id,
                "p": price,
                "q": qty,
                "T": self.time_ms,
                "m": taker_side == "sell",  # the buyer is the maker when the seller took
                "M": True,
            },
        )
        return self.trade_id

    def stall_trades(self) -> None:
        """The connections open now that carry a trade stream receive nothing more (nor answer
        anything), while the books' own connections go on."""
        for connection in self.server.connections:
            if any(topic.endswith("@trade") for topic in connection.topics):
                connection.stalled = True

    def book(self, symbol: str) -> dict[str, dict[Decimal, Decimal]]:
        return self.markets[symbol].book.plain()
