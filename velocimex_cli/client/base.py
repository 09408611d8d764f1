"""What the sync and async clients share: construction options, --verbose logging, rate-limit
bookkeeping, announced waits. Each concrete client adds only its httpx transport and its policy
driver.

`on_wait(step)` is called before every wait the person should know about (a 429 being waited
out, a batch pacing itself): the CLI prints "rate limited: retrying in 55 s" there.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx

from velocimex_cli import __version__
from velocimex_cli.client.auth import ApiKeyAuth
from velocimex_cli.client.endpoints import Endpoints
from velocimex_cli.client.policy import Send, Sleep, pace
from velocimex_cli.client.responses import RateLimit
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.config.credentials import Secret
from velocimex_cli.wire import jsonfmt

MASKED_HEADERS = ("x-api-secret", "x-api-key", "authorization")


def request_log(request: httpx.Request) -> str:
    """A --verbose line for a request, with the credentials masked."""
    lines = [f"> {request.method} {request.url}"]
    for name, value in request.headers.items():
        shown = "****" if name.lower() in MASKED_HEADERS else value
        lines.append(f"> {name}: {shown}")
    return "\n".join(lines)


class BaseClient(Endpoints):
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        api_secret: str | Secret | None,
        timeout: float,
        retry: RetryPolicy | None,
        log: Callable[[str], None] | None,
        on_wait: Callable[[Sleep], None] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.rate_limit: RateLimit | None = None
        # (method, HTTP status) of the last answer: a POST of an order answered 200, not 201,
        # was an idempotent replay (see `replayed`).
        self.last_answer: tuple[str, int] | None = None
        self._log = log
        self._on_wait = on_wait
        self._http_options: dict[str, Any] = {
            "base_url": self.base_url,
            "auth": ApiKeyAuth(api_key, api_secret) if api_key and api_secret else None,
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            "headers": {"User-Agent": f"vmx/{__version__}", "Accept": "application/json"},
        }
        # https is verified against the system CAs unless told which CA to trust (client/tls.py);
        # the same context goes to the stream client.
        if verify is None and self.base_url.lower().startswith("https://"):
            from velocimex_cli.client.tls import verified_context

            verify = verified_context()
        self.verify = verify
        if verify is not None:
            self._http_options["verify"] = verify
        else:
            # Plain http: no CA bundle to load (see client/tls.py trusting_nothing).
            from velocimex_cli.client.tls import trusting_nothing

            self._http_options["verify"] = trusting_nothing()

    @property
    def replayed(self) -> bool:
        """The last order placement returned an existing order (same client_order_id)."""
        return self.last_answer == ("POST", 200)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def _build(self, http: httpx.Client | httpx.AsyncClient, step: Send) -> httpx.Request:
        content = None if step.body is None else jsonfmt.dumps(step.body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        return http.build_request(
            step.method, step.path, params=step.params, content=content, headers=headers
        )

    def _received(self, response: httpx.Response, started: float) -> httpx.Response:
        if self._log is not None:
            self._log(request_log(response.request))
            elapsed = (time.perf_counter() - started) * 1000
            self._log(f"< {response.status_code} {response.reason_phrase} ({elapsed:.0f} ms)")
        self.rate_limit = RateLimit.from_headers(response.headers) or self.rate_limit
        self.last_answer = (response.request.method, response.status_code)
        return response

    def _announce(self, step: Sleep) -> None:
        if step.reason is not None and self._on_wait is not None:
            self._on_wait(step)

    def _pacing(self) -> Sleep | None:
        """The wait before the next request if the last response said none remain."""
        return pace(self.rate_limit, self.retry.now(), self.retry.max_rate_limit_wait)
