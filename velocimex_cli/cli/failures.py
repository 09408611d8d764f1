"""Every way a command can fail, mapped to one exit code and one message for people.

0 ok · 1 unexpected · 2 usage / INVALID_PARAMETER · 3 authentication, permission or missing
credentials · 4 rate limited after retries · 5 insufficient balance · 6 market closed ·
7 not found · 8 internal / 5xx · 9 the API cannot be reached · 10 a pre-trade risk limit
(RISK_LIMIT_EXCEEDED) · 11 the order ended without the fill asked for (not an error: set by
the order commands from the order's status and reason) · 12 the engine could not store the
change (STORAGE_UNAVAILABLE): nothing was executed, and sending it again later is safe.
"""

from __future__ import annotations

from typing import Any

# Commands import CommandError from velocimex_cli.cli.command_error (light); this module,
# with the error tables, is imported only when something failed.
from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.client.errors import MissingCredentials, NotAnApi
from velocimex_cli.config.credentials import CredentialsError
from velocimex_cli.config.settings import ConfigError
from velocimex_cli.paths import UnsafeFileError
from velocimex_cli.wire.errors import ApiError, ErrorCode, ExitCode, Unreachable

_HINTS: dict[ErrorCode, str] = {
    ErrorCode.AUTHENTICATION_ERROR: "check the key with `vmx auth status`, or log in again: "
    "`vmx auth login`",
    ErrorCode.PERMISSION_DENIED: "the key lacks the permission or your IP is not allowed; "
    "use a key with the right permissions",
    ErrorCode.NOT_FOUND: "check the id, e.g. with `vmx order list --status all`",
    ErrorCode.INTERNAL_ERROR: "the server failed; before sending a change again, check whether "
    "it was done (e.g. `vmx order list --status all`), and report it if it persists",
    ErrorCode.STORAGE_UNAVAILABLE: "the engine stores again by itself once its storage works "
    "(a full disk: free some space; `vmx engine logs` says why); sending it again then is safe",
}


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.exit_code
    if isinstance(exc, MissingCredentials | CredentialsError | UnsafeFileError):
        return ExitCode.AUTH
    if isinstance(exc, Unreachable):
        return ExitCode.UNREACHABLE
    if isinstance(exc, CommandError):
        return exc.exit_code
    if isinstance(exc, ConfigError) or _file_error(exc):
        return ExitCode.USAGE
    return ExitCode.UNEXPECTED


def _file_error(exc: BaseException) -> bool:
    """An OS error about a named file or directory (vmx's home, a data directory): the
    place is wrong or not writable, which the user fixes, not a bug in vmx."""
    return isinstance(exc, OSError) and exc.filename is not None


def _file_message(exc: OSError) -> str:
    path = exc.filename
    return (
        f"cannot use {path}: {exc.strerror or exc}; vmx keeps its files (settings, "
        "credentials, engine data) under VMX_HOME, and an engine's under its --data-dir: "
        "point them at a directory you can write"
    )


def error_body(exc: BaseException) -> dict[str, Any]:
    """The API's error JSON for any failure (client-side ones get a code of their own)."""
    if isinstance(exc, ApiError):
        return exc.to_body()
    code = None
    for kind, name in (
        (MissingCredentials, "MISSING_CREDENTIALS"),
        (CredentialsError, "MISSING_CREDENTIALS"),
        (Unreachable, "UNREACHABLE"),
        (ConfigError, "CONFIG_ERROR"),
        (UnsafeFileError, "UNSAFE_FILE"),
    ):
        if isinstance(exc, kind):
            code = name
            break
    if isinstance(exc, CommandError):
        code = exc.code
    details: dict[str, Any] = {}
    if isinstance(exc, OSError) and _file_error(exc):
        return {
            "error": {
                "code": "FILE_ERROR",
                "message": _file_message(exc),
                "details": {"path": str(exc.filename)},
            }
        }
    if isinstance(exc, Unreachable):
        details = {"url": exc.url, "reason": exc.reason}
        if isinstance(exc, NotAnApi):
            details["status"] = exc.status
    return {"error": {"code": code or "UNEXPECTED", "message": str(exc), "details": details}}


def hint_for(exc: ApiError) -> str:
    """What to do next, for the situation the error describes (not just its code)."""
    details = exc.details
    if exc.code == ErrorCode.INVALID_PARAMETER:
        status = details.get("status")
        if details.get("parameter") == "client_order_id" and details.get("order_id"):
            return (
                f"see it with `vmx order show {details['order_id']}`; for a new order use "
                "another --client-id (or none: vmx makes one)"
            )
        if details.get("parameter") == "order_id" and status:
            order = details.get("value") or "the order"
            return _NOT_OPEN.get(str(status), "it is no longer open: nothing to cancel").format(
                order=order
            )
        if details.get("parameter") in ("file", "data"):  # a data file's content, or its name
            return "fix what the message names (the file, a line in it, or a flag) and try again"
        if details.get("parameter"):
            return f"fix the value of {details['parameter']} and try again"
        return "check the command's arguments with --help"
    if exc.code == ErrorCode.RATE_LIMIT_EXCEEDED:
        after = details.get("retry_after")
        later = f"in {after} s" if after is not None else "in a minute"
        if "max_wait" in details:
            return (
                f"place it again {later}, pass --wait to wait as long as the API asks, or "
                "raise the bound: --max-wait SECONDS or `vmx config set order_max_wait SECONDS`"
            )
        return f"the API refused more requests for now; try again {later}"
    if exc.code == ErrorCode.NOT_FOUND:
        if "deployment_id" in details:
            return "see the deployments there are with `vmx strategy status`"
        if "strategy_id" in details:
            return "see the strategies there are with `vmx strategy list`"
        if "path" in details:
            return (
                "the API has no such route: check the URL (--api-url) points at a Velocimex "
                "API, and that vmx and the API are of compatible versions"
            )
        if "account" in details:
            return "check the account name"
    if exc.code == ErrorCode.RISK_LIMIT_EXCEEDED:
        return "`vmx account limits` shows your limits; --yes never skips one"
    return _HINTS.get(exc.code, "")


# Canceling an order that already ended: say how it ended, not "fix the value of order_id".
_NOT_OPEN: dict[str, str] = {
    "filled": "order {order} is already filled: there is nothing left to cancel "
    "(see it with `vmx order show {order}`)",
    "canceled": "order {order} is already canceled: nothing to do",
    "rejected": "order {order} was rejected and never rested: nothing to cancel "
    "(see why with `vmx order show {order}`)",
}


# Routes the engine's messages name for API callers, and the command a vmx user types instead.
ROUTE_COMMANDS = (
    ("GET /v1/strategies/deployments", "`vmx strategy status`"),
    ("GET /v1/strategies", "`vmx strategy list`"),
    ("GET /v1/trading/orders", "`vmx order list`"),
    ("GET /v1/account/limits", "`vmx account limits`"),
)


def for_the_cli(message: str) -> str:
    """An API message as a vmx user reads it: routes named as the commands that call them."""
    if "/v1/" in message:
        for route, command in ROUTE_COMMANDS:
            message = message.replace(route, command)
    return message


def human_message(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        lines = [f"error: {for_the_cli(exc.message)} ({exc.code.value})"]
        detail = ", ".join(f"{k}={v}" for k, v in exc.details.items() if k != "body")
        if detail:
            lines.append(f"  details: {detail}")
        if exc.code == ErrorCode.MARKET_CLOSED and exc.details.get("next_open"):
            lines.append(f"  the market opens at {exc.details['next_open']}")
        elif exc.code == ErrorCode.INSUFFICIENT_BALANCE:
            lines.append("  check `vmx account balance`; open orders lock funds")
        elif hint_for(exc):
            lines.append(f"  {hint_for(exc)}")
        return "\n".join(lines)
    if isinstance(
        exc, CommandError | MissingCredentials | CredentialsError | ConfigError | UnsafeFileError
    ):
        return f"error: {exc}"
    if isinstance(exc, Unreachable):
        return f"error: {exc}"
    if isinstance(exc, OSError) and _file_error(exc):
        return f"error: {_file_message(exc)}"
    return f"error: unexpected {type(exc).__name__}: {exc}"
