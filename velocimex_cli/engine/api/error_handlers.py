"""Every failure leaves in the reference's error shape: {"error": {code, message, details}}.

Never a framework's own shape, never a traceback. INVALID_PARAMETER is 400 except: 413 (body
too large), 415 (wrong content type), 405 (method not allowed) and 409 (order no longer open:
the engine's `OrderNotOpen`). Each exception carries its own `http_status`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.wire.errors import (
    ApiError,
    InternalError,
    InvalidParameter,
    NotFound,
)


class InvalidRequest(InvalidParameter):
    """An INVALID_PARAMETER with its own HTTP status (413, 415, 405)."""

    def __init__(self, status: int, parameter: str, value: Any, message: str) -> None:
        super().__init__(parameter, value, message)
        self._status = status

    @property
    def http_status(self) -> int:
        return self._status


def error_response(exc: ApiError, headers: Mapping[str, str] | None = None) -> JsonResponse:
    return JsonResponse(exc.to_body(), status_code=exc.http_status, headers=headers)


def internal_error_body() -> dict[str, Any]:
    return InternalError("Internal server error; the engine log has the details").to_body()


async def _api_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        path = request.url.path
        return error_response(NotFound(f"No such route: {path}", {"path": path}))
    if exc.status_code == 405:
        method = request.method
        error = InvalidRequest(
            405, "method", method, f"Method {method} is not allowed on {request.url.path}"
        )
        return error_response(error, exc.headers)  # keeps Starlette's `Allow`
    error = InvalidRequest(exc.status_code, "request", "", str(exc.detail))
    return error_response(error)


# The app's exception handlers (Starlette's `exception_handlers`): an ApiError from a routed
# endpoint, and the router's own 404 and 405.
HANDLERS: dict[Any, Any] = {ApiError: _api_error, StarletteHTTPException: _http_error}
