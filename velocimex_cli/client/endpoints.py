"""Every API call as a method, shared by the sync and async clients.

Each method describes its request and hands it to `self._call`, which the sync client runs
and returns, and the async client wraps in a coroutine.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def _quoted(value: object, safe: str) -> str:
    """`value` percent-encoded for a path, its `.`/`..` segments too: a symbol such as
    `../../account/balance` must reach the API as that (unknown) symbol, never be resolved by
    URL normalisation into another route (GET elsewhere, or a DELETE of another order)."""
    text = quote(str(value).strip(), safe=safe)
    return "/".join(
        part.replace(".", "%2E") if part in (".", "..") else part for part in text.split("/")
    )


def _seg(value: str) -> str:
    return _quoted(value, "")


def _symbol(value: str) -> str:
    # The slash of BTC/USDT may travel raw (the reference's own form); the dash is an alias.
    return _quoted(value, "/")


ORDERS_PATH = "/v1/trading/orders"
DEPLOYMENTS_PATH = "/v1/strategies/deployments"
CANCEL_AFTER_PATH = "/v1/trading/cancel-after"
LIMITS_PATH = "/v1/account/limits"


def order_path(order_id: str) -> str:
    """/v1/trading/orders/{id}; the id may be `client_order_id:<id>`."""
    return f"{ORDERS_PATH}/{_quoted(order_id, ':')}"


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class Endpoints:
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:  # pragma: no cover - provided by the concrete client
        raise NotImplementedError

    # Public
    def health(self) -> Any:
        return self._call("GET", "/v1/health")

    # Market data
    def markets_status(self) -> Any:
        return self._call("GET", "/v1/markets/status")

    def markets(self, exchange: str | None = None) -> Any:
        return self._call("GET", "/v1/markets", params=_params(exchange=exchange))

    def order_book(self, exchange: str, symbol: str, depth: int | None = None) -> Any:
        path = f"/v1/markets/{_seg(exchange)}/orderbook/{_symbol(symbol)}"
        return self._call("GET", path, params=_params(depth=depth))

    def ticker(self, exchange: str, symbol: str) -> Any:
        return self._call("GET", f"/v1/markets/{_seg(exchange)}/ticker/{_symbol(symbol)}")

    def candles(
        self, exchange: str, symbol: str, interval: str | None = None, limit: int | None = None
    ) -> Any:
        """The newest candles of an instrument's trades, oldest first (an extension)."""
        path = f"/v1/markets/{_seg(exchange)}/candles/{_symbol(symbol)}"
        return self._call("GET", path, params=_params(interval=interval, limit=limit))

    # Trading
    def get_order(self, order_id: str) -> Any:
        return self._call("GET", order_path(order_id))

    def list_orders(
        self,
        status: str | None = None,
        exchange: str | None = None,
        symbol: str | None = None,
        limit: int | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> Any:
        """{"orders", "total", "next_before"}: a page of history, newest first."""
        params = _params(
            status=status, exchange=exchange, symbol=symbol, limit=limit, since=since, before=before
        )
        return self._call("GET", ORDERS_PATH, params=params)

    def validate_order(self, request: dict[str, Any]) -> Any:
        """The engine's dry run: every pre-trade check, nothing placed (extension)."""
        return self._call("POST", ORDERS_PATH + "/validate", body=request)

    def cancel_after(self, timeout: int) -> Any:
        """Arm the dead-man switch for `timeout` seconds (0 disarms); extension."""
        return self._call("POST", CANCEL_AFTER_PATH, body={"timeout": timeout})

    def cancel_after_status(self) -> Any:
        return self._call("GET", CANCEL_AFTER_PATH)

    def cancel_order(self, order_id: str) -> Any:
        return self._call("DELETE", order_path(order_id))

    def cancel_all(self, exchange: str | None = None, symbol: str | None = None) -> Any:
        params = _params(exchange=exchange, symbol=symbol)
        return self._call("DELETE", ORDERS_PATH, params=params)

    def fills(
        self,
        exchange: str | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
        limit: int | None = None,
        since: str | None = None,
        before: str | None = None,
    ) -> Any:
        """{"fills", "total", "next_before"}: a page of fills, newest first."""
        params = _params(
            exchange=exchange,
            symbol=symbol,
            order_id=order_id,
            limit=limit,
            since=since,
            before=before,
        )
        return self._call("GET", "/v1/trading/fills", params=params)

    # Account
    def rotate_key(self, grace_seconds: int | None = None) -> Any:
        """A new secret for the key in use (extension); the old one works for the grace."""
        return self._call("POST", "/v1/auth/rotate", body=_params(grace_seconds=grace_seconds))

    def key_info(self) -> Any:
        """The key in use, as `vmx engine keys list` shows it (extension)."""
        return self._call("GET", "/v1/auth/key")

    def balance(self) -> Any:
        return self._call("GET", "/v1/account/balance")

    def positions(self) -> Any:
        return self._call("GET", "/v1/account/positions")

    def limits(self) -> Any:
        """The account's pre-trade risk limits (extension)."""
        return self._call("GET", LIMITS_PATH)

    def set_limits(self, changes: dict[str, Any]) -> Any:
        """Change the named limits (None switches one off); answers all of them."""
        return self._call("PATCH", LIMITS_PATH, body=changes)

    # Strategies
    def strategies(self) -> Any:
        return self._call("GET", "/v1/strategies")

    def strategy(self, strategy_id: str) -> Any:
        return self._call("GET", f"/v1/strategies/{_seg(strategy_id)}")

    def add_strategy(self, source: str, filename: str | None = None, replace: bool = False) -> Any:
        body: dict[str, Any] = {"source": source}
        if filename is not None:
            body["filename"] = filename
        if replace:
            body["replace"] = True
        return self._call("POST", "/v1/strategies", body=body)

    def remove_strategy(self, strategy_id: str) -> Any:
        return self._call("DELETE", f"/v1/strategies/{_seg(strategy_id)}")

    def deployments(self, state: str | None = None) -> Any:
        return self._call("GET", DEPLOYMENTS_PATH, params=_params(state=state))

    def deployment(self, deployment_id: str) -> Any:
        return self._call("GET", f"{DEPLOYMENTS_PATH}/{_seg(deployment_id)}")

    def stop_deployment(self, deployment_id: str) -> Any:
        return self._call("POST", f"{DEPLOYMENTS_PATH}/{_seg(deployment_id)}/stop")

    def deployment_logs(
        self, deployment_id: str, since: int | None = None, limit: int | None = None
    ) -> Any:
        path = f"{DEPLOYMENTS_PATH}/{_seg(deployment_id)}/logs"
        return self._call("GET", path, params=_params(since=since, limit=limit))

    def deploy_strategy(
        self, strategy_id: str, exchange: str, symbol: str, params: dict[str, Any] | None = None
    ) -> Any:
        body = {"exchange": exchange, "symbol": symbol, "params": params or {}}
        return self._call("POST", f"/v1/strategies/{_seg(strategy_id)}/deploy", body=body)
