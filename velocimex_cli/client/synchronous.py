"""The synchronous API client (httpx): one connection pool, auth, retries, typed errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from velocimex_cli import __version__
from velocimex_cli.client.auth import ApiKeyAuth
from velocimex_cli.client.endpoints import Endpoints
from velocimex_cli.client.errors import Unreachable
from velocimex_cli.client.orders import new_client_order_id
from velocimex_cli.client.responses import RateLimit, to_data
from velocimex_cli.client.retry import IDEMPOTENT_METHODS, RETRY_STATUSES, RetryPolicy
from velocimex_cli.config.credentials import Secret
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import NotFound, RateLimitExceeded

ORDERS_PATH = "/v1/trading/orders"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)  # the request never left


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def request_log(request: httpx.Request) -> str:
    """A --verbose line for a request, with the credentials masked."""
    lines = [f"> {request.method} {request.url}"]
    for name, value in request.headers.items():
        shown = "****" if name.lower() in ("x-api-secret", "x-api-key", "authorization") else value
        lines.append(f"> {name}: {shown}")
    return "\n".join(lines)


class Client(Endpoints):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        api_secret: str | Secret | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.rate_limit: RateLimit | None = None
        self._sleep = sleep
        self._log = log
        auth = ApiKeyAuth(api_key, api_secret) if api_key and api_secret else None
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"User-Agent": f"vmx/{__version__}", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any
    ) -> httpx.Response:
        content = None if body is None else jsonfmt.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        request = self._http.build_request(
            method, path, params=params, content=content, headers=headers
        )
        started = time.perf_counter()
        response = self._http.send(request)
        if self._log is not None:
            self._log(request_log(response.request))
            elapsed = (time.perf_counter() - started) * 1000
            self._log(f"< {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)")
        self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
        return response

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        idempotent = method in IDEMPOTENT_METHODS
        attempts = self.retry.attempts
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send(method, path, params, body)
            except httpx.TransportError as exc:
                if last or not (idempotent or isinstance(exc, NOT_SENT)):
                    raise Unreachable(self.base_url, describe(exc)) from exc
                self._sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429 and not last:
                wait = self.retry.rate_limit_wait(response.headers, attempt)
                if wait is None:
                    return to_data(response)
                self._sleep(wait)
                continue
            if response.status_code in RETRY_STATUSES and idempotent and not last:
                self._sleep(self.retry.backoff(attempt))
                continue
            return to_data(response)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def place_order(self, request: dict[str, Any]) -> Any:
        """Place an order exactly once, even across timeouts and retries.

        The body always carries a client_order_id (generated if absent). If the outcome of a
        POST is unknown (timeout, dropped connection), the order is looked up by that id
        before anything else happens: found means placed, not found means safe to send again.
        """
        body = dict(request)
        if not body.get("client_order_id"):
            body["client_order_id"] = new_client_order_id()
        cid = body["client_order_id"]
        attempts = self.retry.attempts
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send("POST", ORDERS_PATH, None, body)
            except httpx.TransportError as exc:
                if not isinstance(exc, NOT_SENT):
                    try:
                        return self.get_order(f"client_order_id:{cid}")
                    except NotFound:
                        pass
                    except Unreachable as lookup_failed:
                        raise Unreachable(
                            self.base_url,
                            describe(exc),
                            f"the order's fate is unknown: check with "
                            f"`vmx order show client_order_id:{cid}` before placing it again",
                        ) from lookup_failed
                if last:
                    raise Unreachable(self.base_url, describe(exc)) from exc
                self._sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429 and not last:
                wait = self.retry.rate_limit_wait(response.headers, attempt)
                if wait is None:
                    return to_data(response)
                self._sleep(wait)
                continue
            return to_data(response)
        raise RateLimitExceeded("still rate limited after retries")  # pragma: no cover
