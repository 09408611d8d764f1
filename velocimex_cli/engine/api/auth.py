"""Who is calling: the X-API-Key / X-API-Secret pair, its permissions and its IP allow-list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from starlette.requests import HTTPConnection

from velocimex_cli.engine.api.request_body import first_headers
from velocimex_cli.wire.errors import AuthenticationError, PermissionDenied

if TYPE_CHECKING:
    from velocimex_cli.engine.api.runtime import EngineRuntime


class Principal(NamedTuple):
    api_key: str
    account: str
    permissions: tuple[str, ...]


def client_host(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


def check_credentials(
    runtime: EngineRuntime,
    api_key: str | None,
    api_secret: str | None,
    host: str | None,
    permission: str = "read",
) -> Principal:
    if not api_key or not api_secret:
        raise AuthenticationError(
            "Missing credentials: send the X-API-Key and X-API-Secret headers"
            " (create a key with `vmx engine keys create`)",
            {},
        )
    info = runtime.verify(api_key, api_secret)
    if info is None:
        raise AuthenticationError("Invalid API key or secret", {"api_key": api_key})
    if not info.active:
        raise AuthenticationError(
            "This API key has been revoked; create a new one with `vmx engine keys create`",
            {"api_key": api_key},
        )
    if not info.allows_ip(host):
        raise PermissionDenied(
            f"This API key may not be used from {host}; it is limited to"
            f" {', '.join(info.ip_allow)}",
            {"ip": host or "", "allowed": list(info.ip_allow)},
        )
    if permission not in info.permissions:
        raise PermissionDenied(
            f"This API key lacks the {permission!r} permission"
            f" (it has: {', '.join(info.permissions)}); use a key created with"
            f" `vmx engine keys create --permissions read,trade`",
            {"permission": permission, "permissions": list(info.permissions)},
        )
    runtime.ensure_account(info.account)
    return Principal(info.api_key, info.account, info.permissions)


def credentials_from(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    return headers.get("x-api-key"), headers.get("x-api-secret")


def authenticate(conn: HTTPConnection, permission: str = "read") -> Principal:
    """The caller of a REST request; reads the raw ASGI headers (names are lower case) once."""
    scope = conn.scope
    key, secret = first_headers(scope, b"x-api-key", b"x-api-secret")
    client = scope.get("client")
    runtime: EngineRuntime = scope["app"].state.runtime
    return check_credentials(runtime, key, secret, client[0] if client else None, permission)
