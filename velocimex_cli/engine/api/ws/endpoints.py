"""The two WebSocket endpoints: /v1/ws/market and /v1/ws/orders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from velocimex_cli.engine.api.auth import check_credentials, client_host, credentials_from
from velocimex_cli.engine.api.ws.hub import (
    CHANNELS,
    MarketSubscriber,
    OrderSubscriber,
    Subscriber,
)
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire import streams as wire
from velocimex_cli.wire.errors import ApiError, InvalidParameter

if TYPE_CHECKING:
    from velocimex_cli.engine.api.runtime import EngineRuntime

CLOSE_POLICY = wire.CLOSE_POLICY


def _error(exc: ApiError) -> dict[str, Any]:
    return wire.error_message(exc.to_body())


async def _refuse(ws: WebSocket, reason: str) -> None:
    await ws.accept()
    await ws.close(CLOSE_POLICY, reason)


async def _receive_text(ws: WebSocket) -> str | None:
    """The next client message as text; None when the client has gone."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        text = data.decode("utf-8", errors="replace")
    return text


def _parse_message(text: str) -> dict[str, Any]:
    try:
        value = jsonfmt.loads(text)
    except (ValueError, RecursionError):
        raise InvalidParameter("message", text[:200], "Messages must be JSON objects") from None
    if not isinstance(value, dict):
        raise InvalidParameter("message", text[:200], "Messages must be JSON objects")
    return value


def _unless_ping(sub: Subscriber, text: str) -> dict[str, Any] | None:
    """The client's message, or None once it was a ping, answered with a pong (both streams
    take a ping at any time)."""
    message = _parse_message(text)
    if message.get("action") == "ping":
        sub.send_now(wire.pong_message())
        return None
    return message


async def _run(ws: WebSocket, sub: Subscriber, on_text: Any) -> None:
    """Pump frames out while reading client messages; return when either side is done."""
    pump = asyncio.create_task(sub.pump())
    try:
        while True:
            receiving = asyncio.ensure_future(_receive_text(ws))
            done, _ = await asyncio.wait({receiving, pump}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                receiving.cancel()
                with contextlib.suppress(BaseException):
                    await receiving
                return
            try:
                text = receiving.result()
            except (WebSocketDisconnect, RuntimeError):
                return
            if text is None:
                return
            on_text(text)
    finally:
        sub.outbox.close()
        if not pump.done():
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump


@contextlib.asynccontextmanager
async def _connection_slot(ws: WebSocket) -> AsyncIterator[EngineRuntime | None]:
    """Take one of the caller's IP's connection slots and accept; None when refused (the
    socket is then already closed with the reason). The slot is freed however it ends."""
    runtime: EngineRuntime = ws.app.state.runtime
    runtime.ensure_started()
    host = client_host(ws) or "unknown"
    if not runtime.slots.acquire(host):
        await _refuse(ws, runtime.slots.refusal_reason)
        yield None
        return
    try:
        await ws.accept()
        yield runtime
    finally:
        runtime.slots.release(host)


async def market_stream(ws: WebSocket) -> None:
    async with _connection_slot(ws) as runtime:
        if runtime is None:
            return
        settings = runtime.settings
        sub = MarketSubscriber(
            ws,
            settings.ws_queue_limit,
            settings.market_messages_per_second,
            runtime.book_frame,
            settings.ws_send_timeout_seconds,
            settings.ws_close_grace_seconds,
            runtime.book_status_frame,
        )
        runtime.commit_pending()  # the first tickers show stored state only
        for ticker in runtime.started_exchange().tickers():
            sub.outbox.put_latest(
                ("ticker", f"{ticker['exchange']}:{ticker['symbol']}"),
                jsonfmt.dumps(wire.ticker_message(ticker)),
            )
        runtime.hub.add_market(sub)
        try:
            await _run(ws, sub, lambda text: _market_message(runtime, sub, text))
        finally:
            runtime.hub.remove_market(sub)


def _market_message(runtime: EngineRuntime, sub: MarketSubscriber, text: str) -> None:
    try:
        message = _unless_ping(sub, text)
        if message is None:
            return
        action = message.get("action")
        if action not in ("subscribe", "unsubscribe"):
            raise InvalidParameter(
                "action", action, "action must be 'subscribe', 'unsubscribe' or 'ping'"
            )
        unknown = set(message) - {"action", "channels", "instruments"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidParameter(name, message[name], f"Unknown field {name!r}")
        channels = message.get("channels", list(CHANNELS))
        if not isinstance(channels, list) or not channels:
            raise InvalidParameter(
                "channels", channels, "channels must be a non-empty list of ticker, book, trades"
            )
        for channel in channels:
            if channel not in CHANNELS:
                raise InvalidParameter(
                    "channels", channel, f"Unknown channel {channel!r}; use ticker, book, trades"
                )
        raw = message.get("instruments")
        keys = None if raw is None else runtime.instrument_keys_from(raw)
        every = runtime.instrument_keys()
        before = {key for key in every if sub.wants("book", key)}
        if action == "subscribe":
            sub.subscribe(channels, keys)
        else:
            sub.unsubscribe(channels, keys, every)
        runtime.hub.subscriptions_changed()
        sub.forget_unwanted_tickers()
        sub.send_now(wire.subscribed_message(action, channels, every if keys is None else keys))
        for key in every:
            if key not in before and sub.wants("book", key):
                sub.resnapshot(key)
    except ApiError as exc:
        sub.send_now(_error(exc))


async def order_stream(ws: WebSocket) -> None:
    async with _connection_slot(ws) as runtime:
        if runtime is None:
            return
        principal = await _authenticate(runtime, ws, client_host(ws))
        if principal is None:
            return
        settings = runtime.settings
        sub = OrderSubscriber(
            ws,
            max(settings.ws_queue_limit, 10_000),
            0,
            settings.ws_send_timeout_seconds,
            settings.ws_close_grace_seconds,
        )
        sub.send_now(wire.authenticated_message(principal.account))
        runtime.hub.add_orders(principal.account, sub)
        watchdog = asyncio.ensure_future(_watch_key(runtime, principal.api_key, sub))
        try:
            await _run(ws, sub, lambda text: _order_message(sub, text))
        finally:
            watchdog.cancel()
            runtime.hub.remove_orders(principal.account, sub)


async def _watch_key(runtime: EngineRuntime, api_key: str, sub: OrderSubscriber) -> None:
    """Close an orders stream whose key gets revoked, or expires, while it is connected."""
    interval = runtime.settings.ws_key_check_seconds
    while True:
        await asyncio.sleep(interval)
        info = runtime.keys.get(api_key)
        if info is None or not info.active:
            sub.close(CLOSE_POLICY, "API key revoked")
            return
        if info.expired(runtime.settings.clock()):
            sub.close(CLOSE_POLICY, "API key expired")
            return


def _order_message(sub: OrderSubscriber, text: str) -> None:
    try:
        message = _unless_ping(sub, text)
        if message is None:
            return
        raise InvalidParameter(
            "action", message.get("action"), "Nothing to do: this stream only sends order updates"
        )
    except ApiError as exc:
        sub.send_now(_error(exc))


async def _authenticate(runtime: EngineRuntime, ws: WebSocket, host: str | None) -> Any:
    key, secret = credentials_from(ws.headers)
    try:
        if not key and not secret:
            timeout = runtime.settings.ws_auth_timeout_seconds
            try:
                text = await asyncio.wait_for(_receive_text(ws), timeout)
            except TimeoutError:
                await _close_with_error(
                    ws,
                    InvalidParameter(
                        "action",
                        "",
                        f"Authenticate within {timeout:g} s: send the X-API-Key and X-API-Secret"
                        ' headers or {"action": "auth", "api_key": ..., "api_secret": ...}',
                    ),
                    "authentication timed out",
                )
                return None
            if text is None:
                return None
            try:
                message = _parse_message(text)
            except InvalidParameter:  # never echo what may hold a secret
                raise InvalidParameter(
                    "message", "", "The first message must be a JSON object"
                ) from None
            if message.get("action") != "auth":
                raise InvalidParameter(
                    "action",
                    message.get("action"),
                    'The first message must be {"action": "auth", "api_key", "api_secret"}',
                )
            key, secret = message.get("api_key"), message.get("api_secret")
            if not isinstance(key, str) or not isinstance(secret, str):
                key = secret = None
        return check_credentials(runtime, key, secret, host, "read")
    except ApiError as exc:
        await _close_with_error(ws, exc, exc.message)
        return None


async def _close_with_error(ws: WebSocket, exc: ApiError, reason: str) -> None:
    if ws.application_state != WebSocketState.CONNECTED:
        return
    with contextlib.suppress(Exception):
        await ws.send_text(jsonfmt.dumps(_error(exc)))
        await ws.close(CLOSE_POLICY, _truncate(reason))


def _truncate(reason: str) -> str:
    data = reason.encode("utf-8")
    return reason if len(data) <= 120 else data[:120].decode("utf-8", errors="ignore")
