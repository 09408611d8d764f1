"""The API's error codes, one exception type per code, and how each maps to HTTP and exit codes.

The reference defines six codes; NOT_FOUND, PERMISSION_DENIED, RISK_LIMIT_EXCEEDED and
STORAGE_UNAVAILABLE are documented extensions (see docs/api.md). Client and engine both import
this module: it is the contract.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    MARKET_CLOSED = "MARKET_CLOSED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Extensions (documented in docs/api.md).
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RISK_LIMIT_EXCEEDED = "RISK_LIMIT_EXCEEDED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.AUTHENTICATION_ERROR: 401,
    ErrorCode.INVALID_PARAMETER: 400,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.INSUFFICIENT_BALANCE: 400,
    ErrorCode.MARKET_CLOSED: 409,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.RISK_LIMIT_EXCEEDED: 400,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
}


class ExitCode:
    """Process exit codes of `vmx` (documented in the README)."""

    OK = 0
    UNEXPECTED = 1  # also: a confirmation declined; `vmx engine` could not start, or none runs
    USAGE = 2
    AUTH = 3
    RATE_LIMITED = 4
    INSUFFICIENT_BALANCE = 5
    MARKET_CLOSED = 6
    NOT_FOUND = 7
    SERVER_ERROR = 8
    UNREACHABLE = 9
    RISK_LIMIT = 10
    # The order was accepted but ended without the fill asked for: a post-only order that would
    # have taken (rejected), a FOK that could not fill in full, an IOC or market order with an
    # unfilled remainder. Not an error of the API: the order exists, with its `reason`.
    NOT_FILLED = 11
    # The engine could not store the change (STORAGE_UNAVAILABLE): nothing of it was executed,
    # nor will be; sending it again is safe once the engine stores again.
    NOT_STORED = 12
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it


EXIT_CODE: dict[ErrorCode, int] = {
    ErrorCode.AUTHENTICATION_ERROR: ExitCode.AUTH,
    ErrorCode.PERMISSION_DENIED: ExitCode.AUTH,
    ErrorCode.INVALID_PARAMETER: ExitCode.USAGE,
    ErrorCode.RATE_LIMIT_EXCEEDED: ExitCode.RATE_LIMITED,
    ErrorCode.INSUFFICIENT_BALANCE: ExitCode.INSUFFICIENT_BALANCE,
    ErrorCode.MARKET_CLOSED: ExitCode.MARKET_CLOSED,
    ErrorCode.NOT_FOUND: ExitCode.NOT_FOUND,
    ErrorCode.INTERNAL_ERROR: ExitCode.SERVER_ERROR,
    ErrorCode.RISK_LIMIT_EXCEEDED: ExitCode.RISK_LIMIT,
    ErrorCode.STORAGE_UNAVAILABLE: ExitCode.NOT_STORED,
}


class ApiError(Exception):
    """An error in the API's terms: a code, a message for people and machine-readable details.

    Every class pickles intact (class, message, details and any other attribute): a subclass's
    own __init__ takes other arguments than (message, details), so unpickling rebuilds it with
    `rebuild_error` instead of calling the class."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    @property
    def exit_code(self) -> int:
        return EXIT_CODE[self.code]

    def to_body(self) -> dict[str, Any]:
        """The reference's error response: {"error": {"code", "message", "details"}}."""
        return {
            "error": {"code": self.code.value, "message": self.message, "details": self.details}
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, details={self.details!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (rebuild_error, (type(self), self.message, self.details), self.__dict__)


class AuthenticationError(ApiError):
    code = ErrorCode.AUTHENTICATION_ERROR


class InvalidParameter(ApiError):
    code = ErrorCode.INVALID_PARAMETER

    def __init__(
        self,
        parameter: str,
        value: Any,
        message: str | None = None,
        **extra: Any,
    ) -> None:
        text = "" if value is None else str(value)
        super().__init__(
            message or f"Invalid value for {parameter}: {text!r}",
            {"parameter": parameter, "value": text, **extra},
        )


class OrderNotOpen(InvalidParameter):
    """Canceling an order that is no longer open: INVALID_PARAMETER, answered with 409."""

    @property
    def http_status(self) -> int:
        return 409


class IdempotencyConflict(InvalidParameter):
    """A client_order_id already used for an order with other parameters: INVALID_PARAMETER
    naming client_order_id, answered with 409, the existing order's id in the details."""

    @property
    def http_status(self) -> int:
        return 409


class RiskLimitExceeded(ApiError):
    """A pre-trade risk limit of the account refused the order (extension code); details name
    the limit, its setting and the order's value."""

    code = ErrorCode.RISK_LIMIT_EXCEEDED


class RateLimitExceeded(ApiError):
    code = ErrorCode.RATE_LIMIT_EXCEEDED


class InsufficientBalance(ApiError):
    code = ErrorCode.INSUFFICIENT_BALANCE


class MarketClosed(ApiError):
    code = ErrorCode.MARKET_CLOSED


class InternalError(ApiError):
    code = ErrorCode.INTERNAL_ERROR


class StorageUnavailable(ApiError):
    """The engine could not store a change (disk full, I/O error, a lost file): the change was
    not done and never will be (the engine rolled its memory back to what it had stored), so
    it is safe to send again once the engine stores again (extension code, HTTP 503)."""

    code = ErrorCode.STORAGE_UNAVAILABLE

    @classmethod
    def not_done(cls, not_done: str, reason: str) -> StorageUnavailable:
        """`not_done` ("not placed", "not canceled"): what did not happen."""
        return cls(
            f"{not_done}: the engine could not store it; nothing was executed",
            {"executed": False, "reason": reason},
        )


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class PermissionDenied(ApiError):
    code = ErrorCode.PERMISSION_DENIED


class Unreachable(Exception):
    """A server vmx needs did not answer (connection refused, DNS, timeout): the API for the
    client, a Dask scheduler for a sweep's --cluster. No API answered, so it has no error code of
    the API; the CLI prints it as UNREACHABLE with exit code 9. Here, in the contract, because
    both sides raise it and the engine does not import the client."""

    def __init__(
        self, url: str, reason: str, hint: str | None = None, server: str = "the API"
    ) -> None:
        self.url = url
        self.reason = reason
        self.hint = (
            hint or "check the URL, your network, or start the engine with `vmx engine start`"
        )
        super().__init__(f"cannot reach {server} at {url}: {reason}; {self.hint}")


def rebuild_error(
    cls: type[ApiError], message: str, details: dict[str, Any] | None = None
) -> ApiError:
    """An instance of `cls` (any ApiError class) with this message and these details, whatever
    arguments the class's own __init__ takes."""
    exc = ApiError.__new__(cls)
    ApiError.__init__(exc, message, details)
    return exc


# Every error class by name: the strategy worker protocol names the class it raises, so that an
# OrderNotOpen stays an OrderNotOpen (its code alone would make it an InvalidParameter).
def _family(root: type[ApiError]) -> list[type[ApiError]]:
    """`root` and every class derived from it in this module, parents first."""
    found = [root]
    for sub in root.__subclasses__():
        if sub.__module__ == __name__:
            found.extend(_family(sub))
    return found


# Every error class by name (what a worker's `raise` and a pickle name): derived, so a new
# class cannot be left out.
ERROR_CLASSES: dict[str, type[ApiError]] = {cls.__name__: cls for cls in _family(ApiError)}

ERROR_TYPES: dict[ErrorCode, type[ApiError]] = {
    cls.code: cls
    for cls in (
        AuthenticationError,
        InvalidParameter,
        RateLimitExceeded,
        InsufficientBalance,
        MarketClosed,
        InternalError,
        NotFound,
        PermissionDenied,
        RiskLimitExceeded,
        StorageUnavailable,
    )
}


def error_from_body(body: dict[str, Any], http_status: int | None = None) -> ApiError:
    """Rebuild the typed exception from an error response body (client side)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        exc = InternalError(f"Unexpected error response (HTTP {http_status})", {"body": body})
        return exc
    raw_code = error.get("code")
    try:
        code = ErrorCode(raw_code) if isinstance(raw_code, str) else ErrorCode.INTERNAL_ERROR
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR
    return rebuild_error(
        ERROR_TYPES[code], str(error.get("message", "")), dict(error.get("details") or {})
    )
