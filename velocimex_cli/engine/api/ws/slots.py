"""WebSocket connection slots: at most N open connections per client IP (both streams)."""

from __future__ import annotations

from collections import defaultdict


class ConnectionSlots:
    def __init__(self, per_ip: int) -> None:
        self.per_ip = per_ip
        self._open: defaultdict[str, int] = defaultdict(int)

    def acquire(self, ip: str) -> bool:
        if self._open[ip] >= self.per_ip:
            return False
        self._open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        left = self._open[ip] - 1
        if left > 0:
            self._open[ip] = left
        else:
            self._open.pop(ip, None)

    @property
    def refusal_reason(self) -> str:
        return f"connection limit of {self.per_ip} per IP reached"
