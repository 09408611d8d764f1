"""An async client of the API's WebSocket streams (/v1/ws/market and /v1/ws/orders).

    client = StreamClient("http://127.0.0.1:7878", api_key, api_secret)
    async for msg in client.stream_market(["BINANCE:BTC/USDT"], ["book", "trades"]):
        ...

Each stream yields the server's messages as dicts (numbers as `Decimal`, like the REST client)
with `received_at` added: the `time.monotonic_ns()` at which the frame was decoded (monotonic,
for rates and lags; a recording also stores the wall-clock start). Between them it yields
synthetic `{"type": "connection", "state": "connecting"|"live"|"reconnecting", "attempt": n,
"error": str|None, "retry_in": seconds|None}` messages, so a consumer can show its state.

A stream never ends by itself: when the connection drops (engine restart, network), it
reconnects with exponential backoff and full jitter (a random delay in [0, min(cap, base·2ⁿ)]),
counting attempts from 1 again once a connection stayed up for `stable_after` seconds, and
restores its subscriptions. It raises (an `ApiError`) only for what retrying cannot fix: refused
credentials, an invalid subscription; or `StreamUnavailable` after `max_attempts` failures
(unbounded by default). Protocol pings detect a peer that stopped answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from velocimex_cli.config.credentials import Secret
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire import streams as wire
from velocimex_cli.wire.decoding import decoder
from velocimex_cli.wire.errors import ApiError, ErrorCode, error_from_body

FATAL_CODES = {
    ErrorCode.AUTHENTICATION_ERROR,
    ErrorCode.PERMISSION_DENIED,
    ErrorCode.INVALID_PARAMETER,
    ErrorCode.NOT_FOUND,
}


decode: Callable[[bytes | str], Any] = decoder()


class StreamHook(Protocol):
    """Sees every message of a stream before it is yielded (`on_message`, synchronous, may
    return messages to yield after it); `on_extra` runs before each of those is yielded."""

    def on_message(self, message: dict[str, Any]) -> list[dict[str, Any]] | None: ...

    async def on_extra(self, message: dict[str, Any]) -> None: ...


class StreamUnavailable(Exception):
    """The stream could not be (re)connected within `max_attempts`."""


class MalformedMessage(Exception):
    """The server sent a frame that is not a JSON object (the connection is dropped)."""


def decode_message(data: bytes | str) -> dict[str, Any]:
    """A frame as a message dict with its `received_at`; MalformedMessage if it is not one."""
    try:
        message = decode(data)
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise MalformedMessage("a message must be a JSON object with a type")
    message["received_at"] = time.monotonic_ns()
    return message


def websocket_url(api_url: str, path: str) -> str:
    """ws(s)://host/.../path from the REST base URL (http -> ws, https -> wss)."""
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    elif not base.startswith(("ws://", "wss://")):
        raise ValueError(f"API URL must start with http:// or https://, not {api_url!r}")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + path


def connection_message(
    state: str, attempt: int, error: str | None = None, retry_in: float | None = None
) -> dict[str, Any]:
    return {
        "type": "connection",
        "state": state,
        "attempt": attempt,
        "error": error,
        "retry_in": None if retry_in is None else round(retry_in, 3),
        "received_at": time.monotonic_ns(),
    }


def describe_failure(exc: BaseException) -> str:
    """A short, secret-free reason for a lost or refused connection."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd or exc.sent
        if frame is None:
            return "connection lost"
        reason = f": {frame.reason}" if frame.reason else ""
        return f"closed with code {frame.code}{reason}"
    if isinstance(exc, InvalidStatus):
        return f"handshake refused with HTTP {exc.response.status_code}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


class Backoff:
    """Exponential backoff with full jitter: delay n is uniform in [0, min(cap, base * 2**(n-1)]."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        bound = min(self.cap, self.base * (2 ** min(attempt - 1, 30)))
        return self.rng.uniform(0, bound)


class _Stream:
    """One logical stream over successive connections: an async iterator of messages."""

    path = ""

    def __init__(self, client: StreamClient) -> None:
        self.client = client
        self._ws: Any = None
        self._iterator: AsyncGenerator[dict[str, Any], None] | None = None
        # A consumer that folds every message in as it is decoded (BookSync): one async
        # generator less per message than wrapping this stream in another.
        self.hook: StreamHook | None = None
        self.attempt = 0
        self.state = "connecting"

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        # The generator itself: `async for` then steps it without a Python-level __anext__.
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def __anext__(self) -> dict[str, Any]:
        return await self.__aiter__().__anext__()

    async def aclose(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        """Send a client message now (dropped when not connected: subscriptions are replayed
        on the next connection anyway)."""
        ws = self._ws
        if ws is not None:
            from websockets.exceptions import ConnectionClosed

            with contextlib.suppress(ConnectionClosed):
                await ws.send(jsonfmt.dumps(message))

    async def _on_open(self, ws: Any) -> AsyncIterator[dict[str, Any]]:
        """Per connection: authenticate, (re)subscribe; yields what the server answered."""
        return
        yield  # an async generator

    async def _run(self) -> AsyncGenerator[dict[str, Any], None]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI

        client = self.client
        url = websocket_url(client.api_url, self.path)
        # connect()'s TLS keyword rides in its **kwargs (typed Any there).
        tls: dict[str, Any] = {"ssl": client.tls_context()} if url.startswith("wss://") else {}
        self.attempt = 0
        yield connection_message("connecting", 0)
        while True:
            error: str
            up_since: float | None = None
            try:
                async with connect(
                    url,
                    additional_headers=client._headers(),
                    open_timeout=client.open_timeout,
                    ping_interval=client.ping_interval,
                    ping_timeout=client.ping_timeout,
                    close_timeout=1.0,
                    max_size=client.max_size,
                    max_queue=client.max_queue,
                    user_agent_header=client.user_agent,
                    proxy=None,
                    **tls,
                ) as ws:
                    self._ws = ws
                    async for message in self._on_open(ws):
                        for item in await self._hooked(message):
                            yield item
                    up_since = time.monotonic()
                    self.state = "live"
                    for item in await self._hooked(connection_message("live", self.attempt)):
                        yield item
                    recv = ws.recv
                    now = time.monotonic_ns
                    hook = self.hook
                    on_message = None if hook is None else hook.on_message
                    while True:  # the hot loop: one decode, one time read, the hook, a yield
                        data = await recv(decode=False)
                        try:
                            message = decode(data)
                            message["received_at"] = now()
                        except (ValueError, TypeError) as exc:  # not JSON, or not an object
                            raise MalformedMessage(str(exc)) from None
                        if on_message is None:
                            yield message
                            continue
                        extra = on_message(message)
                        yield message
                        if extra:
                            for item in extra:
                                await hook.on_extra(item)  # type: ignore[union-attr]  # extra: hook is set
                                yield item
            except InvalidURI as exc:
                raise StreamUnavailable(f"invalid stream URL {url!r}: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                # Final, like REST: retrying cannot make the certificate trusted.
                from velocimex_cli.client.errors import certificate_error

                raise certificate_error(client.api_url, exc) or exc from None
            except MalformedMessage as exc:
                error = f"malformed message from the server ({exc})"
            except (OSError, TimeoutError, InvalidHandshake, EOFError) as exc:
                error = describe_failure(exc)
            except Exception as exc:
                from websockets.exceptions import ConnectionClosed

                if not isinstance(exc, ConnectionClosed):
                    raise
                error = describe_failure(exc)
            finally:
                self._ws = None
            if up_since is not None and time.monotonic() - up_since >= client.stable_after:
                self.attempt = 0  # it was a good connection: start the backoff afresh
            self.attempt += 1
            if client.max_attempts is not None and self.attempt > client.max_attempts:
                raise StreamUnavailable(
                    f"{url}: gave up after {client.max_attempts} attempts ({error})"
                )
            delay = client.backoff.delay(self.attempt)
            self.state = "reconnecting"
            lost = connection_message("reconnecting", self.attempt, error, delay)
            for item in await self._hooked(lost):
                yield item
            await asyncio.sleep(delay)

    async def _hooked(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """`message` and what the hook adds after it (outside the hot loop)."""
        hook = self.hook
        if hook is None:
            return [message]
        extra = hook.on_message(message)
        if not extra:
            return [message]
        for item in extra:
            await hook.on_extra(item)
        return [message, *extra]


def _instrument_name(text: str) -> str:
    return text.strip().upper().replace("-", "/")


def _asked_for(action: dict[str, Any], ticker: dict[str, Any]) -> bool:
    """Whether the subscription `action` covers this ticker."""
    if action.get("action") != "subscribe" or "ticker" not in action.get("channels", ()):
        return False
    instruments = action.get("instruments")
    name = f"{ticker.get('exchange')}:{ticker.get('symbol')}"
    return instruments is None or name in {_instrument_name(i) for i in instruments}


def _raise_if_fatal(message: dict[str, Any]) -> None:
    if message.get("type") != "error":
        return
    exc = error_from_body(message)
    if exc.code in FATAL_CODES:
        raise exc


class MarketStream(_Stream):
    """/v1/ws/market. With neither instruments nor channels: the default feed (every ticker).
    Subscriptions made with `subscribe`/`unsubscribe` are replayed after a reconnect."""

    path = "/v1/ws/market"

    def __init__(
        self,
        client: StreamClient,
        instruments: Sequence[str] | None,
        channels: Sequence[str] | None,
    ) -> None:
        super().__init__(client)
        self._actions: list[dict[str, Any]] = []
        if instruments or channels:
            self._actions.append(
                wire.subscribe_action(
                    "subscribe", list(channels or wire.CHANNELS), instruments or None
                )
            )

    async def _on_open(self, ws: Any) -> AsyncIterator[dict[str, Any]]:
        # Replay every subscription, and wait for each answer: an invalid one is fatal. Of the
        # default feed's tickers the server sends before the first answer, only those of
        # subscribed instruments are passed on; everything after it is.
        answered = False
        for action in self._actions:
            await ws.send(jsonfmt.dumps(action))
            while True:
                message = decode_message(await ws.recv(decode=False))
                kind = message["type"]
                if kind in ("subscribed", "unsubscribed", "error"):
                    _raise_if_fatal(message)
                    yield message
                    if kind != "error":
                        answered = True
                        break
                elif answered or kind != "ticker" or _asked_for(self._actions[0], message):
                    yield message

    async def subscribe(
        self, instruments: Sequence[str] | None = None, channels: Sequence[str] | None = None
    ) -> None:
        action = wire.subscribe_action("subscribe", list(channels or wire.CHANNELS), instruments)
        self._actions.append(action)
        await self.send(action)

    async def unsubscribe(
        self, instruments: Sequence[str] | None = None, channels: Sequence[str] | None = None
    ) -> None:
        action = wire.subscribe_action("unsubscribe", list(channels or wire.CHANNELS), instruments)
        self._actions.append(action)
        await self.send(action)

    async def resnapshot(self, instrument: str) -> None:
        """Ask for a fresh book snapshot of one subscribed instrument (unsubscribe its book,
        subscribe again: the server answers with a snapshot at its current sequence)."""
        await self.send(wire.subscribe_action("unsubscribe", ["book"], [instrument]))
        await self.send(wire.subscribe_action("subscribe", ["book"], [instrument]))


class OrderStream(_Stream):
    """/v1/ws/orders: the account's order updates and fills. Needs credentials."""

    path = "/v1/ws/orders"

    async def _on_open(self, ws: Any) -> AsyncIterator[dict[str, Any]]:
        client = self.client
        if client.auth == "message":
            await ws.send(jsonfmt.dumps(wire.auth_action(*client._credentials())))
        message = decode_message(await ws.recv(decode=False))
        _raise_if_fatal(message)
        yield message

    async def ping(self) -> None:
        await self.send(wire.ping_action())


class StreamClient:
    """Opens the API's WebSocket streams. `auth="headers"` sends the key and secret on the
    handshake (as REST does); `auth="message"` sends the `auth` message first (orders only).
    """

    def __init__(
        self,
        api_url: str,
        api_key: str | None = None,
        api_secret: str | Secret | None = None,
        *,
        auth: str = "headers",
        backoff_base: float = 0.25,
        backoff_cap: float = 5.0,
        stable_after: float = 10.0,
        max_attempts: int | None = None,
        open_timeout: float = 5.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float | None = 10.0,
        max_size: int | None = 16 * 1024 * 1024,
        max_queue: int | None = 1024,
        rng: random.Random | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        if auth not in ("headers", "message"):
            raise ValueError("auth must be 'headers' or 'message'")
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        websocket_url(api_url, "")  # validates the scheme now rather than at the first connect
        self.api_url = api_url
        self.api_key = api_key
        if isinstance(api_secret, str):
            api_secret = Secret(api_secret)
        self._secret: Secret | None = api_secret
        self.auth = auth
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self.stable_after = stable_after
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_size = max_size
        self.max_queue = max_queue
        self.verify = verify  # None: the system CAs (client/tls.py), for wss:// only
        from velocimex_cli import __version__

        self.user_agent = f"vmx/{__version__}"

    def __repr__(self) -> str:
        return f"StreamClient({self.api_url!r}, api_key=..., api_secret='****')"

    def tls_context(self) -> ssl.SSLContext:
        """The certificates a wss:// stream trusts (the same as the REST client's)."""
        if self.verify is None:
            from velocimex_cli.client.tls import verified_context

            self.verify = verified_context()
        return self.verify

    def _credentials(self) -> tuple[str, str]:
        if self.api_key is None or self._secret is None:
            from velocimex_cli.wire.errors import AuthenticationError

            raise AuthenticationError("The orders stream needs an API key and secret")
        return self.api_key, self._secret.reveal()

    def _headers(self) -> dict[str, str]:
        if self.auth != "headers" or self.api_key is None or self._secret is None:
            return {}
        return {"X-API-Key": self.api_key, "X-API-Secret": self._secret.reveal()}

    def stream_market(
        self, instruments: Sequence[str] | None = None, channels: Sequence[str] | None = None
    ) -> MarketStream:
        """Market data: instruments are "EXCHANGE:SYMBOL"; channels ticker, book, trades (all
        of them when only instruments are given). Neither: the default feed (every ticker)."""
        if channels is not None:
            for channel in channels:
                if channel not in wire.CHANNELS:
                    raise ValueError(f"unknown channel {channel!r}; use ticker, book or trades")
        return MarketStream(self, instruments, channels)

    def stream_orders(self) -> OrderStream:
        """The key's account's order updates and fills."""
        self._credentials()
        return OrderStream(self)


__all__ = [
    "ApiError",
    "Backoff",
    "MarketStream",
    "OrderStream",
    "StreamClient",
    "StreamUnavailable",
    "connection_message",
    "decode",
    "websocket_url",
]
