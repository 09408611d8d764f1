"""When to retry a request and how long to wait: exponential backoff with full jitter.

Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried after connection failures,
timeouts and 502/503/504; any request is retried after a 429, which the server refused without
acting on. The wait after a 429 honours Retry-After, then X-RateLimit-Reset (epoch seconds).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass
class RetryPolicy:
    attempts: int = 4  # total tries, including the first
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_rate_limit_wait: float = 60.0  # never sleep longer than this for a 429
    rng: random.Random = field(default_factory=random.Random)
    now: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]; attempt counts from 0."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(0, cap)

    def rate_limit_wait(self, headers: Mapping[str, str], attempt: int) -> float | None:
        """Seconds to wait after a 429, or None when the wait is longer than we are willing to."""
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
            wait = self.backoff(attempt)
        else:
            wait += self.rng.uniform(0, self.base_delay)  # don't stampede at the reset instant
        return wait if wait <= self.max_rate_limit_wait else None
