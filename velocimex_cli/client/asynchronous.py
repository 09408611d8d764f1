"""The asynchronous API client: the same calls as `Client`, each a coroutine to await."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from velocimex_cli import __version__
from velocimex_cli.client.auth import ApiKeyAuth
from velocimex_cli.client.endpoints import Endpoints
from velocimex_cli.client.errors import Unreachable
from velocimex_cli.client.orders import new_client_order_id
from velocimex_cli.client.responses import RateLimit, to_data
from velocimex_cli.client.retry import IDEMPOTENT_METHODS, RETRY_STATUSES, RetryPolicy
from velocimex_cli.client.synchronous import NOT_SENT, ORDERS_PATH, describe, request_log
from velocimex_cli.config.credentials import Secret
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import NotFound, RateLimitExceeded


class AsyncClient(Endpoints):
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        api_secret: str | Secret | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.rate_limit: RateLimit | None = None
        self._sleep = sleep
        self._log = log
        auth = ApiKeyAuth(api_key, api_secret) if api_key and api_secret else None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"User-Agent": f"vmx/{__version__}", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"AsyncClient({self.base_url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any
    ) -> httpx.Response:
        content = None if body is None else jsonfmt.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        request = self._http.build_request(
            method, path, params=params, content=content, headers=headers
        )
        started = time.perf_counter()
        response = await self._http.send(request)
        if self._log is not None:
            self._log(request_log(response.request))
            elapsed = (time.perf_counter() - started) * 1000
            self._log(f"< {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)")
        self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
        return response

    async def _run(self, method: str, path: str, params: dict[str, Any] | None, body: Any) -> Any:
        idempotent = method in IDEMPOTENT_METHODS
        attempts = self.retry.attempts
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send(method, path, params, body)
            except httpx.TransportError as exc:
                if last or not (idempotent or isinstance(exc, NOT_SENT)):
                    raise Unreachable(self.base_url, describe(exc)) from exc
                await self._sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429 and not last:
                wait = self.retry.rate_limit_wait(response.headers, attempt)
                if wait is None:
                    return to_data(response)
                await self._sleep(wait)
                continue
            if response.status_code in RETRY_STATUSES and idempotent and not last:
                await self._sleep(self.retry.backoff(attempt))
                continue
            return to_data(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        return self._run(method, path, params, body)

    async def place_order(self, request: dict[str, Any]) -> Any:
        """As `Client.place_order`: exactly once, looking the order up after an unknown outcome."""
        body = dict(request)
        if not body.get("client_order_id"):
            body["client_order_id"] = new_client_order_id()
        cid = body["client_order_id"]
        attempts = self.retry.attempts
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._send("POST", ORDERS_PATH, None, body)
            except httpx.TransportError as exc:
                if not isinstance(exc, NOT_SENT):
                    try:
                        return await self.get_order(f"client_order_id:{cid}")
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
                await self._sleep(self.retry.backoff(attempt))
                continue
            if response.status_code == 429 and not last:
                wait = self.retry.rate_limit_wait(response.headers, attempt)
                if wait is None:
                    return to_data(response)
                await self._sleep(wait)
                continue
            return to_data(response)
        raise RateLimitExceeded("still rate limited after retries")  # pragma: no cover
