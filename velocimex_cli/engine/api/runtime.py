"""What one running server holds: an engine node, the key store, the WS hub, the limiter.

Started by the app's lifespan (or lazily on the first request when a test transport runs no
lifespan), on the event loop thread: every engine command runs on that one thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.api.rate_limit import SlidingWindowLimiter
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.engine.api.upload_checks import UploadChecks
from velocimex_cli.engine.api.ws.hub import Hub
from velocimex_cli.engine.api.ws.slots import ConnectionSlots
from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.engine.keys import KeyInfo, KeyStore
from velocimex_cli.engine.node import EngineNode, NodeSettings
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.streams import book_snapshot_message, book_status_message
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.drivers.strategies.deployments import Deployments

log = logging.getLogger("vmx.engine.api")

KEY_CACHE_SECONDS = 1.0
CHECKPOINT_SECONDS = 0.5  # WAL checkpoints on a background thread (engine/checkpointer.py)


def node_settings(settings: ServerSettings) -> NodeSettings:
    """The engine half of a server's settings."""
    return NodeSettings(
        data_dir=settings.data_dir,
        seed=settings.seed,
        always_open=settings.always_open,
        simulate=settings.simulate,
        simulate_interval_seconds=settings.simulate_interval_seconds,
        checkpoint_seconds=CHECKPOINT_SECONDS if settings.data_dir is not None else None,
        strategies=settings.strategy_limits,
        accept_data_loss=settings.accept_data_loss,
        mirrors=settings.mirrors,
        venue_config=settings.venue_config,
        venue_sources=settings.venue_sources,
        venue_retry_sleep=settings.venue_retry_sleep,
    )


class EngineRuntime:
    """HTTP state around one engine node: the key cache, WS slots, the rate limiter, the hub.

    The node (engine/node.py) assembles and runs the engine itself: exchange, store, group
    commit, the simulator and the strategy deployments.
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.hub = Hub(self._listen, self._interest)
        self.slots = ConnectionSlots(settings.ws_connections_per_ip)
        self.limiter = (
            SlidingWindowLimiter(
                settings.rest_limit_per_minute,
                settings.rest_window_seconds,
                lambda: settings.clock().timestamp(),
                settings.owner_rest_limit_per_minute,
            )
            if settings.rate_limit
            else None
        )
        self.upload_checks = UploadChecks(settings.strategy_limits.max_checks)
        self.node: EngineNode | None = None
        # The node's, kept as a plain attribute for the hot path (None until `start`).
        self.exchange: Exchange | None = None
        self._keys: KeyStore | None = None
        self._verified: dict[str, tuple[float, bytes, KeyInfo]] = {}
        self._revocations_seen = 0
        self.started = False
        self._listening = False

    @property
    def simulator(self) -> Any:
        return self.node.simulator if self.node is not None else None

    @property
    def deployments(self) -> Deployments:
        self.ensure_started()
        assert self.node is not None and self.node.deployments is not None
        return self.node.deployments

    # lifecycle ----------------------------------------------------------------------------
    def ensure_started(self) -> None:
        if not self.started:
            self.start()

    def start(self) -> None:
        if self.started:
            return
        settings = self.settings
        self.node = EngineNode(node_settings(settings), settings.clock)
        self.node.start()
        self.exchange = self.node.exchange
        if settings.data_dir is not None:
            self._keys = self._keys or KeyStore.open(settings.data_dir, settings.clock)
        else:
            self._keys = self._keys or KeyStore.in_memory(settings.clock)
        self._listening = False
        self.started = True

    async def stop(self) -> None:
        self.hub.close_all()
        await asyncio.sleep(0)
        if self.node is not None:
            await self.node.stop()
            self._listening = False
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        self.started = False

    def _listen(self, active: bool) -> None:
        """Feed engine events to the hub only while a WebSocket client is connected."""
        if self.exchange is None or active == self._listening:
            return
        if active:
            self.exchange.add_listener(self.hub.on_event)
        else:
            self.exchange.remove_listener(self.hub.on_event)
        self._listening = active

    def _interest(self, interest: Interest) -> None:
        """Build only the events the hub's subscribers need (Hub.interest)."""
        if self.exchange is not None and self._listening:
            self.exchange.restrict_listener(self.hub.on_event, interest)

    # keys and accounts --------------------------------------------------------------------
    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            settings = self.settings
            if settings.data_dir is not None:
                self._keys = KeyStore.open(settings.data_dir, settings.clock)
            else:
                self._keys = KeyStore.in_memory(settings.clock)
        return self._keys

    def verify(self, api_key: str, api_secret: str) -> KeyInfo | None:
        """KeyStore.verify, remembered for KEY_CACHE_SECONDS so the hot path skips SQLite.

        A key revoked by another process (`vmx engine keys revoke`) is refused within that
        time; revoking through this server's own store takes effect at once.
        """
        keys = self.keys
        if keys.revocations != self._revocations_seen:
            self._verified.clear()
            self._revocations_seen = keys.revocations
        now = time.monotonic()
        digest = hashlib.sha256(api_secret.encode("utf-8")).digest()
        cached = self._verified.get(api_key)
        if cached is not None and cached[0] > now and hmac.compare_digest(cached[1], digest):
            return cached[2]
        info = keys.verify(api_key, api_secret)
        if info is not None and info.active:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[api_key] = (now + KEY_CACHE_SECONDS, digest, info)
        else:
            self._verified.pop(api_key, None)
        return info

    def started_exchange(self) -> Exchange:
        """The exchange of the started node."""
        if self.exchange is None:
            raise RuntimeError("the engine has not started")
        return self.exchange

    def ensure_account(self, account: str) -> None:
        self.ensure_started()
        exchange = self.started_exchange()
        if not exchange.has_account(account):
            exchange.ensure_account(account)

    # market data helpers ------------------------------------------------------------------
    def instrument_keys(self) -> list[str]:
        """Every instrument's key (a mirrored venue's markets may load after start)."""
        exchange = self.exchange
        return [] if exchange is None else [i.key for i in exchange.catalogue.instruments]

    def book_status_frame(self, key: str) -> str | None:
        """The `book_status` message of a mirrored instrument whose book is not valid now
        (None: valid, or not mirrored): it follows a subscription's snapshot."""
        mirrors = self.node.mirrors if self.node is not None else None
        if mirrors is None:
            return None
        exchange, _, symbol = key.partition(":")
        state = mirrors.book_status(exchange, symbol)
        if state is None or state[0]:
            return None
        return jsonfmt.dumps(
            book_status_message(exchange, symbol, False, state[1], iso(self.settings.clock()))
        )

    def instrument_keys_from(self, raw: object) -> list[str]:
        if not isinstance(raw, list) or not raw:
            raise InvalidParameter(
                "instruments", raw, 'instruments must be a non-empty list like ["BINANCE:BTC/USDT"]'
            )
        keys: list[str] = []
        for item in raw:
            if not isinstance(item, str) or ":" not in item:
                raise InvalidParameter(
                    "instruments", item, 'Each instrument is "EXCHANGE:SYMBOL", e.g. "NASDAQ:AAPL"'
                )
            exchange, _, symbol = item.partition(":")
            instrument = self.started_exchange().instrument(exchange, symbol)
            keys.append(instrument.key)
        return list(dict.fromkeys(keys))

    def commit_pending(self) -> None:
        """Commit the pending batch now (group commit would a moment later), so that what is
        read next is stored: a WebSocket snapshot is not answered through `committed()`. If
        the commit fails, memory is the stored state again (see engine/node.py)."""
        if self.exchange is not None and self.exchange.flush_pending and self.node is not None:
            self.node.flush()

    def book_frame(self, key: str) -> str:
        self.commit_pending()
        exchange, _, symbol = key.partition(":")
        book = self.started_exchange().order_book(exchange, symbol, depth=1000)
        return jsonfmt.dumps(book_snapshot_message(book))
