"""The synchronous API client (httpx): one connection pool, auth, retries, typed errors."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx

from velocimex_cli.client import policy
from velocimex_cli.client.base import BaseClient
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.config.credentials import Secret


class Client(BaseClient):
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
        on_wait: Callable[[policy.Sleep], None] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(base_url, api_key, api_secret, timeout, retry, log, on_wait, verify)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **self._http_options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def pace(self) -> None:
        """Wait (announced) for the rate-limit window if the last response said no requests
        remain: a batch calls this between requests instead of running into 429s."""
        step = self._pacing()
        if step is not None:
            self._pause(step)

    def _pause(self, step: policy.Sleep) -> None:
        self._announce(step)
        self._sleep(step.seconds)

    def _send(self, step: policy.Send) -> httpx.Response:
        started = time.perf_counter()
        return self._received(self._http.send(self._build(self._http, step)), started)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        plan = policy.call(self.retry, self.base_url, policy.Send(method, path, params, body))
        return policy.run_sync(plan, self._send, self._pause)

    def place_order(self, request: dict[str, Any]) -> Any:
        """Place an order exactly once, even across timeouts and retries (see policy)."""
        plan = policy.place_order(self.retry, self.base_url, request)
        return policy.run_sync(plan, self._send, self._pause)
