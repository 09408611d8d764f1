"""How an engine server is configured: one dataclass, filled by `vmx engine serve` or by tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits
from velocimex_cli.engine.drivers.venues.spec import VenueMirror


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServerSettings:
    """Everything the API server needs to know; defaults are the reference's limits.

    `data_dir=None` runs an in-memory engine (nothing persisted). `clock` is the engine's clock
    and also the rate limiter's wall clock, so tests can pin time.
    """

    data_dir: Path | None = None
    seed: int = 42
    always_open: bool = False
    rate_limit: bool = True
    rest_limit_per_minute: int = 100
    # The owner's key (the local profile's provisioned key, `vmx-local`): a person's own
    # scripts on their own machine; a 110-line order file goes through without a pause.
    owner_rest_limit_per_minute: int = 1200
    rest_window_seconds: float = 60.0
    ws_connections_per_ip: int = 10
    market_messages_per_second: int = 1000
    simulate: bool = True
    simulate_interval_seconds: float = 0.2
    clock: Callable[[], datetime] = field(default=utc_now)
    max_body_bytes: int = 64 * 1024
    ws_auth_timeout_seconds: float = 5.0
    ws_key_check_seconds: float = 5.0  # how often an orders stream re-checks its key
    ws_queue_limit: int = 1000
    # A WebSocket peer must take each frame within this time, else it is closed (1013) and its
    # slot freed; after the close frame it gets ws_close_grace_seconds more before a hard abort.
    ws_send_timeout_seconds: float = 5.0
    ws_close_grace_seconds: float = 1.0
    strategy_limits: StrategyLimits = field(default_factory=StrategyLimits)
    # Start even when engine.db lacks commits the data directory had stored (logged).
    accept_data_loss: bool = False
    mirrors: tuple[VenueMirror, ...] = ()
    venue_config: dict[str, dict[str, Any]] = field(default_factory=dict)
