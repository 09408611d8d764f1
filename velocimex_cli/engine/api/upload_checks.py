"""How many strategy uploads an engine checks at once.

Checking an upload runs the file in a worker process for up to the start budget (5 s by
default): a handful of uploads that spin at import would otherwise take the machine's cores
and the thread pool from every other client. At most `limit` checks run at once, engine-wide;
one more is refused at once with 429 RATE_LIMIT_EXCEEDED and `Retry-After` (nothing is queued:
the refused upload did nothing; vmx's client waits as asked and sends it again, a few times).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from velocimex_cli.wire.errors import RateLimitExceeded

RETRY_AFTER_SECONDS = 1  # most checks take well under a second


class UploadChecks:
    """The running upload checks of one engine. Used on the event loop's thread only (the
    count changes before and after the awaited check, never inside it)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.running = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `limit` slots for the body, or RATE_LIMIT_EXCEEDED when none is free."""
        if self.running >= self.limit:
            raise RateLimitExceeded(
                f"{self.running} strategy uploads are being checked (at most {self.limit} at"
                f" once on this engine); send it again in {RETRY_AFTER_SECONDS} s",
                {"limit": self.limit, "retry_after": RETRY_AFTER_SECONDS},
            )
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
