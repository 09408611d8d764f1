"""The Velocimex API client: `Client` (sync) and `AsyncClient`, importable from any Python script.

    from velocimex_cli.client import Client
    with Client("http://127.0.0.1:8600", api_key="...", api_secret="...") as api:
        order = api.place_order({"exchange": "BINANCE", "symbol": "BTC/USDT", "side": "buy",
                                 "type": "limit", "quantity": "0.010", "price": "60000"})

Responses are the API's `data` payload with every decimal number parsed as `decimal.Decimal`.
API errors raise the `velocimex_cli.wire.errors` exception for their code; a server that cannot
be reached raises `Unreachable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from velocimex_cli.client import httpx_cli
from velocimex_cli.client.errors import MissingCredentials
from velocimex_cli.wire.errors import Unreachable

httpx_cli.defer()  # before anything imports httpx

if TYPE_CHECKING:
    from velocimex_cli.client.asynchronous import AsyncClient
    from velocimex_cli.client.synchronous import Client

__all__ = ["AsyncClient", "Client", "MissingCredentials", "Unreachable"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package for its exceptions must not import httpx.
    if name == "Client":
        from velocimex_cli.client.synchronous import Client

        return Client
    if name == "AsyncClient":
        from velocimex_cli.client.asynchronous import AsyncClient

        return AsyncClient
    raise AttributeError(name)
