"""Every way a command can fail, mapped to one exit code and one message for people.

0 ok · 1 unexpected · 2 usage / INVALID_PARAMETER · 3 authentication, permission or missing
credentials · 4 rate limited after retries · 5 insufficient balance · 6 market closed ·
7 not found · 8 internal / 5xx · 9 the API cannot be reached · 10 a pre-trade risk limit
(RISK_LIMIT_EXCEEDED) · 11 the order ended without the fill asked for (not an error: set by
the order commands from the order's status and reason).
"""

from __future__ import annotations

from typing import Any

# Commands import CommandError from velocimex_cli.cli.command_error (light); this module,
# with the error tables, is imported only when something failed.
from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.client.errors import MissingCredentials, Unreachable
from velocimex_cli.config.credentials import CredentialsError
from velocimex_cli.config.settings import ConfigError
from velocimex_cli.wire.errors import ApiError, ErrorCode, ExitCode

_HINTS: dict[ErrorCode, str] = {
    ErrorCode.AUTHENTICATION_ERROR: "check the key with `vmx auth status`, or log in again: "
    "`vmx auth login`",
    ErrorCode.PERMISSION_DENIED: "the key lacks the permission or your IP is not allowed; "
    "use a key with the right permissions",
    ErrorCode.RATE_LIMIT_EXCEEDED: "too many requests even after retrying; wait a minute and "
    "try again",
    ErrorCode.NOT_FOUND: "check the id, e.g. with `vmx order list --status all`",
    ErrorCode.INTERNAL_ERROR: "the server failed; try again, and report it if it persists",
}


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.exit_code
    if isinstance(exc, MissingCredentials | CredentialsError):
        return ExitCode.AUTH
    if isinstance(exc, Unreachable):
        return ExitCode.UNREACHABLE
    if isinstance(exc, CommandError):
        return exc.exit_code
    if isinstance(exc, ConfigError):
        return ExitCode.USAGE
    return ExitCode.UNEXPECTED


def error_body(exc: BaseException) -> dict[str, Any]:
    """The API's error JSON for any failure (client-side ones get a code of their own)."""
    if isinstance(exc, ApiError):
        return exc.to_body()
    code = {
        MissingCredentials: "MISSING_CREDENTIALS",
        CredentialsError: "MISSING_CREDENTIALS",
        Unreachable: "UNREACHABLE",
        ConfigError: "CONFIG_ERROR",
    }.get(type(exc))
    if isinstance(exc, CommandError):
        code = exc.code
    details: dict[str, Any] = {}
    if isinstance(exc, Unreachable):
        details = {"url": exc.url, "reason": exc.reason}
    return {"error": {"code": code or "UNEXPECTED", "message": str(exc), "details": details}}


def human_message(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        lines = [f"error: {exc.message} ({exc.code.value})"]
        detail = ", ".join(f"{k}={v}" for k, v in exc.details.items() if k != "body")
        if detail:
            lines.append(f"  details: {detail}")
        if exc.code == ErrorCode.MARKET_CLOSED and exc.details.get("next_open"):
            lines.append(f"  the market opens at {exc.details['next_open']}")
        elif exc.code == ErrorCode.INSUFFICIENT_BALANCE:
            lines.append("  check `vmx account balance`; open orders lock funds")
        elif (
            exc.code == ErrorCode.INVALID_PARAMETER
            and exc.details.get("order_id")
            and (exc.details.get("parameter") == "client_order_id")
        ):
            lines.append(
                f"  see it with `vmx order show {exc.details['order_id']}`; for a new order "
                "use another --client-id (or none: vmx makes one)"
            )
        elif exc.code == ErrorCode.RISK_LIMIT_EXCEEDED:
            lines.append("  `vmx account limits` shows your limits; --yes never skips one")
        elif exc.code == ErrorCode.INVALID_PARAMETER and exc.details.get("parameter"):
            lines.append(f"  fix the value of {exc.details['parameter']} and try again")
        elif exc.code in _HINTS:
            lines.append(f"  {_HINTS[exc.code]}")
        return "\n".join(lines)
    if isinstance(exc, CommandError | MissingCredentials | CredentialsError | ConfigError):
        return f"error: {exc}"
    if isinstance(exc, Unreachable):
        return f"error: {exc}"
    return f"error: unexpected {type(exc).__name__}: {exc}"
