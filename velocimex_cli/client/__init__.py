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

import sys
import types
from typing import TYPE_CHECKING, Any

from velocimex_cli.client.errors import MissingCredentials, Unreachable


def _defer_httpx_command_line() -> None:
    """Keep `import httpx` from importing httpx's own command-line tool.

    httpx's __init__ imports `httpx._main` (its `httpx` CLI) whenever click, rich and pygments
    are installed, which drags rich.console, rich.progress and rich.live into every REST
    command (tens of milliseconds, and rich.live is on the list of things a plain REST
    command must not import). vmx never uses that tool: a stand-in module that loads the
    real one on first call takes its place.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        del sys.modules["httpx._main"]
        import importlib

        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]  # a bare module stands in
    sys.modules["httpx._main"] = stand_in


_defer_httpx_command_line()

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
