"""When to retry a request and how long to wait: exponential backoff with full jitter.

Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried after connection failures,
timeouts and 502/503/504; any request is retried after a 429, which the server refused without
acting on. The wait after a 429 honours Retry-After, then X-RateLimit-Reset (epoch seconds).

Two bounds keep a rate limit from turning into a silent wait: a read waits at most
`max_rate_limit_wait` for one 429, and a placement at most `order_wait` in all (None: as long
as the server asks, which is what `vmx order place --wait` chooses).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_ORDER_WAIT = 5.0  # seconds; the `order_max_wait` setting's default


@dataclass
class RetryPolicy:
    attempts: int = 4  # total tries after transport errors and 5xx, including the first
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_rate_limit_wait: float = 60.0  # a read never sleeps longer than this for one 429
    order_wait: float | None = DEFAULT_ORDER_WAIT  # a placement's total wait (None: unbounded)
    rate_limit_retries: int = 20  # 429s retried per call, whatever the waits add up to
    rng: random.Random = field(default_factory=random.Random)
    now: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]; attempt counts from 0."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(0, cap)

    def server_wait(self, headers: Mapping[str, str], attempt: int) -> float:
        """Seconds the server asks us to wait after a 429 (a backoff when it does not say)."""
        wait: float | None = None
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                wait = max(0.0, float(retry_after))
            except ValueError:
                wait = None
        if wait is None:
            reset = headers.get("x-ratelimit-reset")
            if reset is not None:
                try:
                    wait = max(0.0, float(reset) - self.now())
                except ValueError:
                    wait = None
        if wait is None:
            return self.backoff(attempt)
        return wait + self.rng.uniform(0, self.base_delay)  # don't stampede at the reset instant

    def rate_limit_wait(self, headers: Mapping[str, str], attempt: int) -> float | None:
        """Seconds to wait after a 429, or None when the wait is longer than we are willing to."""
        wait = self.server_wait(headers, attempt)
        return wait if wait <= self.max_rate_limit_wait else None
