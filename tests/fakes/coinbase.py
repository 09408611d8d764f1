"""A fake Coinbase Advanced Trade venue, speaking its documented formats closely enough for
unmodified ccxt: REST `GET /api/v3/brokerage/market/products` (`price_increment`,
`base_increment`, `base_min_size`, `quote_min_size`; no futures) and the v2 currency lists ccxt
reads first; WebSocket with `subscribe` to `level2` (`l2_data` events: a snapshot, then updates
of `new_quantity` per `price_level`) and `market_trades` (a snapshot of recent trades, then
updates; `side` is the taker's), every message numbered by the connection's `sequence_num`.

Point ccxt at it with the config a user writes in `--venue-config`: `config()`.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from tests.fakes.book import TrueBook
from tests.fakes.held_snapshots import HeldSnapshots
from tests.fakes.server import Connection, FakeServer


class Product:
    def __init__(
        self, id: str, price_increment: str, base_increment: str, base_min: str, quote_min: str
    ) -> None:
        self.id = id
        self.base, self.quote = id.split("-")
        self.price_increment = price_increment
        self.base_increment = base_increment
        self.base_min = base_min
        self.quote_min = quote_min
        self.book = TrueBook()
        self.trades: list[dict[str, Any]] = []


DEFAULT_PRODUCTS = (
    Product("BTC-USD", "0.01", "0.00000001", "0.00000001", "1"),
    Product("ETH-USD", "0.01", "0.00000001", "0.00000001", "1"),
)


class FakeCoinbase(HeldSnapshots[Product]):
    def __init__(self, products: tuple[Product, ...] | None = None) -> None:
        super().__init__()
        # (each fake its own copy of the defaults: their books are the venue's state)
        products = copy.deepcopy(DEFAULT_PRODUCTS) if products is None else products
        self.products = {p.id: p for p in products}
        self.server = FakeServer(
            {
                "/api/v3/brokerage/market/products": self._products,
                "/v2/currencies": self._fiat,
                "/v2/currencies/crypto": self._crypto,
                "/v2/exchange-rates": self._rates,
            },
            "/ws",
            self._on_message,
        )
        self.time = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
        self.trade_id = 7000
        self.received: list[Any] = []

    def config(self) -> dict[str, Any]:
        """The `--venue-config` entry for `coinbase` that points ccxt here."""
        return {
            "rateLimit": 1,
            "urls": {"api": {"rest": self.server.http(""), "ws": self.server.ws("/ws")}},
        }

    async def __aenter__(self) -> FakeCoinbase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()

    # -- REST ----------------------------------------------------------------------------

    def _products(self, request: Request) -> Any:
        if request.query_params.get("product_type", "SPOT") != "SPOT":
            return {"products": [], "num_products": 0}
        products = [
            {
                "product_id": p.id,
                "price": "0",
                "volume_24h": "0",
                "base_increment": p.base_increment,
                "quote_increment": p.price_increment,
                "price_increment": p.price_increment,
                "quote_min_size": p.quote_min,
                "quote_max_size": "150000000",
                "base_min_size": p.base_min,
                "base_max_size": "3400",
                "base_name": p.base,
                "quote_name": p.quote,
                "status": "online",
                "cancel_only": False,
                "limit_only": False,
                "post_only": False,
                "trading_disabled": False,
                "auction_mode": False,
                "product_type": "SPOT",
                "quote_currency_id": p.quote,
                "base_currency_id": p.base,
                "base_display_symbol": p.base,
                "quote_display_symbol": p.quote,
                "view_only": False,
                "alias": "",
                "alias_to": [],
            }
            for p in self.products.values()
        ]
        return {"products": products, "num_products": len(products)}

    def _fiat(self, request: Request) -> Any:
        return {"data": [{"id": "USD", "name": "United States Dollar", "min_size": "0.01"}]}

    def _crypto(self, request: Request) -> Any:
        return {
            "data": [
                {
                    "asset_id": "5b71fc48-3dd3-540c-809b-f8c94d0e68b5",
                    "code": "BTC",
                    "name": "Bitcoin",
                    "exponent": 8,
                    "type": "crypto",
                },
                {
                    "asset_id": "d85dce9b-5b73-5c3c-8978-522ce1d1c1b4",
                    "code": "ETH",
                    "name": "Ethereum",
                    "exponent": 8,
                    "type": "crypto",
                },
            ]
        }

    def _rates(self, request: Request) -> Any:
        return {"data": {"currency": "USD", "rates": {"BTC": "0.00001", "ETH": "0.0003"}}}

    # -- WebSocket -----------------------------------------------------------------------

    def _now(self) -> str:
        self.time += timedelta(milliseconds=1)
        return self.time.isoformat().replace("+00:00", "Z")

    def _message(self, channel: str, events: list[dict[str, Any]]) -> Any:
        timestamp = self._now()

        def numbered(connection: Connection) -> dict[str, Any]:
            number = connection.sent_numbers
            connection.sent_numbers += 1
            return {
                "channel": channel,
                "client_id": "",
                "timestamp": timestamp,
                "sequence_num": number,
                "events": events,
            }

        return numbered

    def _send(self, connection: Connection, channel: str, events: list[dict[str, Any]]) -> None:
        connection.send(self._message(channel, events)(connection))

    def _on_message(self, connection: Connection, message: Any) -> None:
        self.received.append(message)
        if message.get("type") != "subscribe":
            return
        channel = message.get("channel")
        for product_id in message.get("product_ids", []):
            product = self.products.get(product_id)
            if product is None or channel not in ("level2", "market_trades"):
                connection.send({"type": "error", "message": f"Failed to subscribe: {product_id}"})
                continue
            if channel == "level2" and self.holding:
                self.held.append((connection, product))  # served by `release_snapshots`
            elif channel == "level2":
                self._serve_book(connection, product)
            else:
                connection.topics.add(f"{channel}:{product_id}")
                self._send(
                    connection,
                    "market_trades",
                    [{"type": "snapshot", "trades": list(reversed(product.trades[-50:]))}],
                )
        self._send(
            connection,
            "subscriptions",
            [{"subscriptions": {channel: message.get("product_ids", [])}}],
        )

    def _send_snapshot(self, connection: Connection, product: Product) -> None:
        updates = [
            self._update(side, p, q)
            for side in ("bid", "ask")
            for p, q in product.book.sorted(side)
        ]
        self._send(
            connection,
            "l2_data",
            [{"type": "snapshot", "product_id": product.id, "updates": updates}],
        )

    def _update(self, side: str, price: Decimal, qty: Decimal) -> dict[str, Any]:
        return {
            "side": "bid" if side == "bid" else "offer",
            "event_time": self._now(),
            "price_level": str(price),
            "new_quantity": str(qty),
        }

    # -- what a test drives --------------------------------------------------------------

    def set_levels(
        self, product_id: str, bids: Any = (), asks: Any = (), *, publish: bool = True
    ) -> None:
        """Change levels (price, total size; 0 removes) as one `l2_data` update; `publish=False`
        loses it on the way (each connection's `sequence_num` still moves on: a gap)."""
        product = self.products[product_id]
        updates = [self._update("bid", *product.book.set("bid", p, q)) for p, q in bids]
        updates += [self._update("ask", *product.book.set("ask", p, q)) for p, q in asks]
        message = self._message(
            "l2_data", [{"type": "update", "product_id": product_id, "updates": updates}]
        )
        if publish:
            self.server.publish(f"level2:{product_id}", message)
        else:
            for connection in self.server.connections:
                if f"level2:{product_id}" in connection.topics:
                    message(connection)  # numbered, never sent

    def trade(self, product_id: str, price: str, qty: str, taker_side: str) -> None:
        product = self.products[product_id]
        self.trade_id += 1
        trade = {
            "trade_id": str(self.trade_id),
            "product_id": product_id,
            "price": price,
            "size": qty,
            "side": taker_side.upper(),
            "time": self._now(),
        }
        product.trades.append(trade)
        self.server.publish(
            f"market_trades:{product_id}",
            self._message("market_trades", [{"type": "update", "trades": [trade]}]),
        )

    def book(self, product_id: str) -> dict[str, dict[Decimal, Decimal]]:
        return self.products[product_id].book.plain()

    def _serve_book(self, connection: Connection, product: Product) -> None:
        connection.topics.add(f"level2:{product.id}")
        self._send_snapshot(connection, product)
