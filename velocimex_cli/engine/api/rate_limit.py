"""REST rate limiting: a sliding-window log per API key (per client IP without a known key).

Unlike a window aligned to the clock minute, a sliding window never lets more than `limit`
requests through in any `window` seconds. The edge middleware also puts the rate-limit headers on
every HTTP response and turns any escaped exception into the reference's INTERNAL_ERROR body.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import RateLimitExceeded

log = logging.getLogger("vmx.engine.api")

PUBLIC_PATHS = frozenset({"/v1/health", "/openapi.json"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the oldest counted request leaves the window
    retry_after: int  # seconds until a request would be allowed again (0 when allowed)

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after).encode()))
        return out


OWNER = "owner:"  # the bucket prefix of the owner's key (auth.rate_bucket)


class SlidingWindowLimiter:
    """`limit` requests per window for every bucket, `owner_limit` for the owner's key's."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        now: Callable[[], float],
        owner_limit: int | None = None,
    ) -> None:
        if limit < 1 or (owner_limit is not None and owner_limit < 1):
            raise ValueError("rate limit must be at least 1 request per window")
        self.limit = limit
        self.owner_limit = owner_limit or limit
        self.window = window_seconds
        self._now = now
        self._hits: dict[str, deque[float]] = {}
        self._calls = 0

    def _window(self, bucket: str, now: float) -> deque[float]:
        hits = self._hits.get(bucket)
        if hits is None:
            hits = self._hits[bucket] = deque()
        cutoff = now - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    def hit(self, bucket: str) -> Decision:
        """Count one request for `bucket` if the window has room."""
        now = self._now()
        self._calls += 1
        if self._calls % 4096 == 0:
            self._prune(now)
        hits = self._window(bucket, now)
        limit = self.owner_limit if bucket.startswith(OWNER) else self.limit
        if len(hits) >= limit:
            free_at = hits[0] + self.window
            return Decision(False, limit, 0, math.ceil(free_at), max(1, math.ceil(free_at - now)))
        hits.append(now)
        return Decision(True, limit, limit - len(hits), math.ceil(hits[0] + self.window), 0)

    def peek(self, bucket: str) -> Decision:
        """The state of `bucket` without counting a request (for public routes)."""
        now = self._now()
        hits = self._window(bucket, now)
        limit = self.owner_limit if bucket.startswith(OWNER) else self.limit
        reset = math.ceil((hits[0] if hits else now) + self.window)
        return Decision(True, limit, max(0, limit - len(hits)), reset, 0)

    def _prune(self, now: float) -> None:
        cutoff = now - self.window
        for bucket in [b for b, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[bucket]


BucketOf = Callable[[Scope], str]


class DirectApp(Protocol):
    """An endpoint the edge calls without wrapping `send`: it puts `extra` headers on its answer
    itself and never lets an exception escape (operations.Endpoint)."""

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]
    ) -> None: ...


class EdgeMiddleware:
    """Outermost HTTP layer: rate limit, rate-limit headers, last-resort error body.

    A request for one of the `direct` paths (the route table's paths without parameters: the
    hot ones) goes straight to its endpoint; everything else goes to `app` (Starlette's
    exception middleware and router) with `send` wrapped to add the headers.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: SlidingWindowLimiter | None,
        bucket_of: BucketOf,
        direct: Mapping[str, DirectApp] | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.bucket_of = bucket_of
        self.direct = direct or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = []
        limiter = self.limiter
        if limiter is not None:
            bucket = self.bucket_of(scope)
            if scope["path"] in PUBLIC_PATHS:
                decision = limiter.peek(bucket)
            else:
                decision = limiter.hit(bucket)
            extra = decision.headers()
            if not decision.allowed:
                error = RateLimitExceeded(
                    f"Rate limit of {decision.limit} requests per minute exceeded;"
                    f" retry after {decision.retry_after} s",
                    {"limit": decision.limit, "retry_after": decision.retry_after},
                )
                await _send_json(send, 429, error.to_body(), extra)
                return
        direct = self.direct.get(scope["path"])
        if direct is not None:
            await direct.serve(scope, receive, send, extra)
            return

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                raise
            await send_internal_error(scope, send, extra)


async def send_internal_error(scope: Scope, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
    """Log the exception being handled, and answer the reference's INTERNAL_ERROR (the cause
    is in the log, never in the body)."""
    from velocimex_cli.engine.api.error_handlers import internal_error_body

    log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
    await _send_json(send, 500, internal_error_body(), extra)


async def _send_json(
    send: Send, status: int, body: object, headers: list[tuple[bytes, bytes]]
) -> None:
    payload = jsonfmt.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
