"""What the strategy worker protocol (protocol.py) carries inside its messages: plain values
(a `Value`: parameters, error details; a Decimal in one travels as a MessagePack extension of
its own, DECIMAL_EXT, so that it does not come back as a str) and API errors (`ErrorBody`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from velocimex_cli.engine.drivers.strategies.operations import (
    MAX_DECIMAL_DIGITS,
    Text,
    api_error_of,
)
from velocimex_cli.wire.errors import ERROR_CLASSES, ApiError, rebuild_error

MAX_ERROR_MESSAGE = 2000
MAX_VALUE_DEPTH = 6
DECIMAL_EXT = 1  # MessagePack extension code of a Decimal inside a Value: its ASCII text

ErrorName = Literal[
    "ApiError", "AuthenticationError", "InvalidParameter", "OrderNotOpen", "IdempotencyConflict",
    "RiskLimitExceeded", "RateLimitExceeded", "InsufficientBalance", "MarketClosed",
    "InternalError", "NotFound", "PermissionDenied", "StorageUnavailable",
]  # fmt: skip
# A Value: None, bool, int, float (passed through as given, e.g. a parameter from a Python
# caller: never computed with), str, Decimal, an aware datetime, or a list / str-keyed dict of
# Values, at most MAX_VALUE_DEPTH deep (checked by check_value on decoding).
Value = Any


def pack_value(value: Any, depth: int = 0) -> Any:
    """`value` ready for a Value field: Decimals as DECIMAL_EXT, tuples as lists, dict keys as
    str; anything else that is not plain data becomes its str()."""
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)  # beyond what MessagePack carries as a number
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return msgspec.msgpack.Ext(DECIMAL_EXT, str(value).encode("ascii"))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if depth < MAX_VALUE_DEPTH:
        if isinstance(value, list | tuple):
            return [pack_value(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {str(key): pack_value(item, depth + 1) for key, item in value.items()}
    return str(value)


def check_value(value: Any, depth: int = 0) -> None:
    """Raise ValueError unless `value` is a Value (decoded, or packed for sending)."""
    if value is None or isinstance(value, bool | int | float | str | Decimal | datetime):
        return
    if isinstance(value, msgspec.msgpack.Ext) and value.code == DECIMAL_EXT:
        return
    if depth >= MAX_VALUE_DEPTH:
        raise ValueError(f"a value nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"a value's key is a {type(key).__name__}, not text")
            check_value(item, depth + 1)
    else:
        raise ValueError(f"a value of type {type(value).__name__}")


def decimal_from_ext(code: int, data: memoryview) -> Decimal:
    if code != DECIMAL_EXT or len(data) > MAX_DECIMAL_DIGITS + 20:
        raise ValueError(f"unknown MessagePack extension {code} ({len(data)} bytes)")
    return Decimal(bytes(data).decode("ascii"))


def check_decimal(name: str, value: Decimal | None) -> None:
    if value is not None and len(value.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"{name} has more than {MAX_DECIMAL_DIGITS} digits")


# ------------------------------------------------------------------------------ errors
class ErrorBody(Struct, array_like=True):
    """An API error crossing the pipe: its exact class, message and details."""

    type: ErrorName
    message: Annotated[str, Meta(max_length=MAX_ERROR_MESSAGE)]
    details: dict[Text, Value]

    def __post_init__(self) -> None:
        check_value(self.details)

    @classmethod
    def of(cls, exc: ApiError) -> ErrorBody:
        """The body of `exc`: its class, or the nearest one the protocol names (a subclass of
        the engine's own, such as a strategy's, travels as its nearest named ancestor)."""
        name = next(k.__name__ for k in type(exc).__mro__ if ERROR_CLASSES.get(k.__name__) is k)
        message = str(exc.message)
        if len(message) > MAX_ERROR_MESSAGE:
            message = message[: MAX_ERROR_MESSAGE - 3] + "..."
        details = exc.details if isinstance(exc.details, dict) else {}
        return cls(name, message, pack_value(details))  # type: ignore[arg-type]  # an ErrorName (tested)

    @classmethod
    def of_exception(cls, exc: BaseException) -> ErrorBody:
        """Any exception as an API error: TypeError and ValueError are the caller's
        INVALID_PARAMETER, anything else unexpected an INTERNAL_ERROR."""
        return cls.of(api_error_of(exc))

    def exception(self) -> ApiError:
        return rebuild_error(ERROR_CLASSES[self.type], self.message, self.details)

    def body(self) -> dict[str, Any]:
        """The API's error response body ({"error": {"code", "message", "details"}})."""
        return self.exception().to_body()
