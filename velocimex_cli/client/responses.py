"""Turning an HTTP response into data or a typed error, and remembering the rate-limit headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from velocimex_cli.client.errors import NotAnApi
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import (
    ApiError,
    AuthenticationError,
    ErrorCode,
    InternalError,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    RateLimitExceeded,
    error_from_body,
)

_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimitExceeded,
}


@dataclass(frozen=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset: int | None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        if "x-ratelimit-limit" not in headers:
            return None

        def number(name: str) -> int | None:
            try:
                return int(float(headers[name]))
            except (KeyError, ValueError):
                return None

        return cls(
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset"),
        )


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return jsonfmt.loads(response.content)
    except ValueError:
        return None


# What a plain web server (not an API) answers for a path or method it does not serve.
NOT_AN_API_STATUSES = frozenset({404, 405, 501})


def _not_an_api(response: httpx.Response) -> NotAnApi:
    url = response.request.url
    return NotAnApi(
        f"{url.scheme}://{url.netloc.decode('ascii')}",
        response.status_code,
        response.request.method,
        url.path,
    )


def _is_api_error(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def to_error(response: httpx.Response) -> ApiError:
    body = _json(response)
    status = response.status_code
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        try:
            ErrorCode(body["error"].get("code"))
            return error_from_body(body, status)
        except ValueError:
            pass
    cls = _BY_STATUS.get(status)
    text = response.text[:200].strip()
    message = f"HTTP {status} from {response.request.url.path}" + (f": {text}" if text else "")
    if cls is not None:
        return cls(message)
    if 400 <= status < 500:
        return InvalidParameter("request", "", message)
    return InternalError(message)


def to_data(response: httpx.Response) -> Any:
    """The `data` payload of a success response; raise the typed error otherwise."""
    if response.status_code >= 400:
        if response.status_code in NOT_AN_API_STATUSES and not _is_api_error(_json(response)):
            raise _not_an_api(response)
        raise to_error(response)
    body = _json(response)
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    if body is None and response.content:
        raise _not_an_api(response)
    return body
