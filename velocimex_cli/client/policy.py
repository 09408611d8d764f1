"""What to send, when to retry, when to look an order up: the client's policies, free of I/O.

Each policy is a generator that yields `Send` (a request to make) or `Sleep` (a pause) and is
given back the `httpx.Response` or the `httpx.TransportError` of each send. The sync and async
clients only drive these generators (`run_sync`, `run_async`), so the retry rules and the
exactly-once placement exist once, whichever client runs them.

A `Sleep` with a `reason` (rate limited, pacing) is one the person should hear about: the
clients hand it to their `on_wait` hook before sleeping, so no wait is silent.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from velocimex_cli.client.endpoints import ORDERS_PATH, order_path
from velocimex_cli.client.responses import RateLimit, to_data, to_error
from velocimex_cli.client.retry import IDEMPOTENT_METHODS, RETRY_STATUSES, RetryPolicy
from velocimex_cli.wire.errors import ErrorCode, NotFound, RateLimitExceeded, Unreachable

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)  # the request never left


@dataclass(frozen=True, slots=True)
class Send:
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None


RATE_LIMITED = "rate_limited"  # the server answered 429: waiting as it asked, then retrying
PACING = "pacing"  # the last response said no requests remain: waiting for the window


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float
    reason: str | None = None  # RATE_LIMITED or PACING: announced; None: a short backoff
    limit: int | None = None  # the server's X-RateLimit-Limit, when known


Outcome = httpx.Response | httpx.TransportError | None
Plan = Generator[Send | Sleep, Outcome, Any]


def describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _refuse_certificate(base_url: str, outcome: httpx.TransportError) -> None:
    """A refused certificate is final: retrying cannot fix it (and nothing was sent)."""
    from velocimex_cli.client.errors import certificate_error

    refused = certificate_error(base_url, outcome)
    if refused is not None:
        raise refused from None


def _rate_limited(
    retry: RetryPolicy, response: httpx.Response, attempt: int, last: bool
) -> Sleep | None:
    """The pause before trying again after a 429, or None to give the 429 to the caller."""
    if response.status_code != 429 or last:
        return None
    wait = retry.rate_limit_wait(response.headers, attempt)
    return None if wait is None else Sleep(wait, RATE_LIMITED, _limit_of(response))


def _limit_of(response: httpx.Response) -> int | None:
    rate_limit = RateLimit.from_headers(response.headers)
    return rate_limit.limit if rate_limit is not None else None


def pace(rate_limit: RateLimit | None, now: float, longest: float) -> Sleep | None:
    """The pause before the next request when the last response said none remain.

    Waits until X-RateLimit-Reset (at most `longest`: a skewed server clock must not park us
    for an hour; a 429 after a short pause still says how long to wait).
    """
    if rate_limit is None or rate_limit.remaining != 0 or rate_limit.reset is None:
        return None
    wait = min(float(rate_limit.reset) - now, longest)
    return Sleep(wait, PACING, rate_limit.limit) if wait > 0 else None


def _order_wait_exceeded(response: httpx.Response, wait: float, bound: float) -> RateLimitExceeded:
    seconds = max(1, math.ceil(wait))
    return RateLimitExceeded(
        f"rate limited: the API asks to wait {seconds} s, longer than the {bound:g} s an order "
        "may wait; the order was not placed",
        {
            "retry_after": seconds,
            "max_wait": int(bound) if bound == int(bound) else bound,
            "limit": _limit_of(response),
        },
    )


def _fate_unknown(response: httpx.Response) -> bool:
    """A 5xx that does not say the request was not executed: only STORAGE_UNAVAILABLE does."""
    if response.status_code < 500:
        return False
    try:
        return to_error(response).code != ErrorCode.STORAGE_UNAVAILABLE
    except Exception:
        return True


def call(retry: RetryPolicy, base_url: str, request: Send) -> Plan:
    """One API call: idempotent requests are retried on transport errors and 502/503/504, any
    request on a 429 (waiting as the server says) or when it never left this machine."""
    idempotent = request.method in IDEMPOTENT_METHODS
    attempts = retry.attempts
    for attempt in range(attempts):
        last = attempt == attempts - 1
        outcome = yield request
        if isinstance(outcome, httpx.TransportError):
            _refuse_certificate(base_url, outcome)
            if last or not (idempotent or isinstance(outcome, NOT_SENT)):
                raise Unreachable(base_url, describe(outcome)) from outcome
            yield Sleep(retry.backoff(attempt))
            continue
        assert isinstance(outcome, httpx.Response)
        pause = _rate_limited(retry, outcome, attempt, last)
        if pause is not None:
            yield pause
            continue
        if outcome.status_code in RETRY_STATUSES and idempotent and not last:
            yield Sleep(retry.backoff(attempt))
            continue
        return to_data(outcome)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def place_order(retry: RetryPolicy, base_url: str, request: dict[str, Any]) -> Plan:
    """Place an order exactly once, even across timeouts and retries.

    The body always carries a client_order_id (generated if absent). If the outcome of a POST
    is unknown (timeout, dropped connection), the order is looked up by that id before anything
    else happens: found means placed, not found means safe to send again.

    A 429 is waited out (announced) while the waits add up to at most `retry.order_wait`
    (None: as long as the server asks); past it, RateLimitExceeded: nothing was placed.

    A 5xx is never sent again: STORAGE_UNAVAILABLE says the order was not executed and is
    raised as it is; any other 5xx leaves its fate unknown, so the order is looked up by its
    client_order_id: found, it is returned (it was placed); not found, the error is raised.
    """
    body = dict(request)
    if not body.get("client_order_id"):
        from velocimex_cli.client.orders import new_client_order_id  # only orders need it

        body["client_order_id"] = new_client_order_id()
    cid = body["client_order_id"]
    attempts = retry.attempts
    attempt = 0  # tries spent on transport errors
    limited = 0  # 429s answered so far
    waited = 0.0  # seconds spent waiting for 429s
    while True:
        last = attempt == attempts - 1
        outcome = yield Send("POST", ORDERS_PATH, None, body)
        if isinstance(outcome, httpx.TransportError):
            _refuse_certificate(base_url, outcome)
            if not isinstance(outcome, NOT_SENT):
                placed, order = yield from _look_up(retry, base_url, cid, describe(outcome))
                if placed:
                    return order
            if last:
                raise Unreachable(base_url, describe(outcome)) from outcome
            yield Sleep(retry.backoff(attempt))
            attempt += 1
            continue
        assert isinstance(outcome, httpx.Response)
        if outcome.status_code == 429 and limited < retry.rate_limit_retries:
            wait = retry.server_wait(outcome.headers, limited)
            limited += 1
            if retry.order_wait is not None and waited + wait > retry.order_wait:
                raise _order_wait_exceeded(outcome, waited + wait, retry.order_wait)
            waited += wait
            yield Sleep(wait, RATE_LIMITED, _limit_of(outcome))
            continue
        if _fate_unknown(outcome):
            sent = f"HTTP {outcome.status_code} to the order"
            placed, order = yield from _look_up(retry, base_url, cid, sent, then=True)
            if placed:
                return order
        return to_data(outcome)


def _look_up(
    retry: RetryPolicy, base_url: str, cid: str, sent: str, *, then: bool = False
) -> Generator[Send | Sleep, Outcome, tuple[bool, Any]]:
    """After an order's unknown outcome: (True, the order) when its client_order_id finds it (it
    was placed), (False, None) when not. A lookup that fails too leaves the order's fate unknown:
    Unreachable saying what became of the order's request (`sent`; with `then`, followed by why
    the lookup failed) and how to check before placing it again."""
    try:
        found = yield from call(retry, base_url, Send("GET", order_path(f"client_order_id:{cid}")))
    except NotFound:
        return False, None
    except Unreachable as lookup_failed:
        raise Unreachable(
            base_url,
            f"{sent}, then {lookup_failed.reason}" if then else sent,
            f"the order's fate is unknown: check with "
            f"`vmx order show client_order_id:{cid}` before placing it again",
        ) from lookup_failed
    return True, found


def run_sync(
    plan: Plan, send: Callable[[Send], httpx.Response], sleep: Callable[[Sleep], None]
) -> Any:
    outcome: Outcome = None
    try:
        while True:
            step = plan.send(outcome)
            if isinstance(step, Sleep):
                sleep(step)
                outcome = None
                continue
            try:
                outcome = send(step)
            except httpx.TransportError as exc:
                outcome = exc
    except StopIteration as done:
        return done.value


async def run_async(
    plan: Plan,
    send: Callable[[Send], Awaitable[httpx.Response]],
    sleep: Callable[[Sleep], Awaitable[None]],
) -> Any:
    outcome: Outcome = None
    try:
        while True:
            step = plan.send(outcome)
            if isinstance(step, Sleep):
                await sleep(step)
                outcome = None
                continue
            try:
                outcome = await send(step)
            except httpx.TransportError as exc:
                outcome = exc
    except StopIteration as done:
        return done.value
