"""The asynchronous API client: the same calls as `Client`, each a coroutine to await."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from velocimex_cli.client import policy
from velocimex_cli.client.base import BaseClient
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.config.credentials import Secret


class AsyncClient(BaseClient):
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
        on_wait: Callable[[policy.Sleep], None] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(base_url, api_key, api_secret, timeout, retry, log, on_wait, verify)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._http_options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def pace(self) -> None:
        """As `Client.pace`: wait for the rate-limit window when none remain."""
        step = self._pacing()
        if step is not None:
            await self._pause(step)

    async def _pause(self, step: policy.Sleep) -> None:
        self._announce(step)
        await self._sleep(step.seconds)

    async def _send(self, step: policy.Send) -> httpx.Response:
        started = time.perf_counter()
        return self._received(await self._http.send(self._build(self._http, step)), started)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        plan = policy.call(self.retry, self.base_url, policy.Send(method, path, params, body))
        return policy.run_async(plan, self._send, self._pause)

    async def place_order(self, request: dict[str, Any]) -> Any:
        """As `Client.place_order`: exactly once, looking the order up after an unknown outcome."""
        plan = policy.place_order(self.retry, self.base_url, request)
        return await policy.run_async(plan, self._send, self._pause)
