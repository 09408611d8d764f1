"""Who is calling: the X-API-Key / X-API-Secret pair, its permissions and its IP allow-list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from starlette.requests import HTTPConnection
from starlette.types import Scope

from velocimex_cli.engine.api.rate_limit import OWNER
from velocimex_cli.engine.api.request_body import first_headers
from velocimex_cli.engine.keys import LOCAL_PROFILE_KEY_NAME
from velocimex_cli.wire.errors import AuthenticationError, PermissionDenied

if TYPE_CHECKING:
    from velocimex_cli.engine.api.runtime import EngineRuntime
    from velocimex_cli.engine.keys import KeyInfo


class Principal(NamedTuple):
    api_key: str
    account: str
    permissions: tuple[str, ...]


def client_host(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


_VERIFIED = "vmx.verified_key"  # scope key: the edge's verification, reused by the route

# Keys may be at most this long; anything longer is refused without a lookup.
MAX_KEY_CHARS = 128


def verify_once(
    runtime: EngineRuntime, scope: Scope, api_key: str, api_secret: str
) -> KeyInfo | None:
    """`runtime.verify` for this request, done at most once (the rate limiter at the edge and
    the route both need it)."""
    done = scope.get(_VERIFIED)
    if done is not None and done[0] == api_key and done[1] == api_secret:
        info: KeyInfo | None = done[2]
        return info
    if len(api_key) > MAX_KEY_CHARS or len(api_secret) > MAX_KEY_CHARS:
        info = None
    else:
        info = runtime.verify(api_key, api_secret)
    scope[_VERIFIED] = (api_key, api_secret, info)
    return info


def rate_bucket(runtime: EngineRuntime, scope: Scope) -> str:
    """Whose rate-limit window a request counts against: its key's only when the secret is
    right, else the caller's IP.

    Counting a request with a wrong secret against the key it names would let anyone who knows
    (or guesses) a key id lock its owner out; guessing secrets is limited per IP instead. The
    local profile's provisioned key (the owner's own, made over loopback with the admin token)
    counts against the owner's larger limit.
    """
    key, secret = first_headers(scope, b"x-api-key", b"x-api-secret")
    if key and secret:
        info = verify_once(runtime, scope, key, secret)
        if info is not None and info.active:
            kind = OWNER if info.name == LOCAL_PROFILE_KEY_NAME else "key:"
            if info.expires is None and info.secret_until is None:
                return kind + key
            now = runtime.settings.clock()  # an expired key or a retired secret: as a stranger
            if not info.expired(now) and not info.secret_retired(now):
                return kind + key
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


def check_credentials(
    runtime: EngineRuntime,
    api_key: str | None,
    api_secret: str | None,
    host: str | None,
    permission: str = "read",
    scope: Scope | None = None,
) -> Principal:
    """The caller behind a key and secret, or AUTHENTICATION_ERROR / PERMISSION_DENIED.

    The details of a 401 never echo the key id: the caller has not shown it owns that key.
    """
    if not api_key or not api_secret:
        raise AuthenticationError(
            "Missing credentials: send the X-API-Key and X-API-Secret headers"
            " (create a key with `vmx engine keys create`)",
            {},
        )
    if scope is not None:
        info = verify_once(runtime, scope, api_key, api_secret)
    elif len(api_key) > MAX_KEY_CHARS or len(api_secret) > MAX_KEY_CHARS:
        info = None
    else:
        info = runtime.verify(api_key, api_secret)
    if info is None:
        raise AuthenticationError("Invalid API key or secret; check both (`vmx auth status`)", {})
    if not info.active:
        raise AuthenticationError(
            "This API key has been revoked; create a new one with `vmx engine keys create`",
            {},
        )
    if info.expires is not None or info.secret_until is not None:
        refuse_expired(info, runtime.settings.clock())
    if not info.allows_ip(host):
        raise PermissionDenied(
            f"This API key may not be used from {host}; it is limited to"
            f" {', '.join(info.ip_allow)}",
            {"ip": host or "", "allowed": list(info.ip_allow)},
        )
    if permission not in info.permissions:
        wanted = ",".join(dict.fromkeys(("read", "trade", permission)))
        raise PermissionDenied(
            f"This API key lacks the {permission!r} permission"
            f" (it has: {', '.join(info.permissions)}); use a key created with"
            f" `vmx engine keys create --permissions {wanted}`",
            {"permission": permission, "permissions": list(info.permissions)},
        )
    runtime.ensure_account(info.account)
    return Principal(info.api_key, info.account, info.permissions)


def refuse_expired(info: KeyInfo, now: datetime) -> None:
    """AUTHENTICATION_ERROR for a key past its expiry, or a rotated-out secret past its grace."""
    if info.expired(now):
        raise AuthenticationError(
            f"This API key expired at {info.expires_at}; ask the engine's owner for a new one"
            " (`vmx engine keys create`, or `vmx engine keys rotate KEY_ID` to renew it), then"
            " `vmx auth login` with it. For the local profile, `vmx auth logout` and the next"
            " command provisions a new key.",
            {"expired_at": info.expires_at},
        )
    if info.secret_retired(now):
        raise AuthenticationError(
            f"This secret was replaced by a key rotation; it stopped working at"
            f" {info.previous_until}. Use the new secret (`vmx auth login`), or ask the"
            " engine's owner to rotate the key again (`vmx engine keys rotate KEY_ID`).",
            {},
        )


def credentials_from(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    return headers.get("x-api-key"), headers.get("x-api-secret")


def authenticate(
    runtime: EngineRuntime,
    scope: Scope,
    api_key: str | None,
    api_secret: str | None,
    permission: str = "read",
) -> Principal:
    """The caller of a REST request, from its X-API-Key and X-API-Secret values (the caller
    reads them in its one pass over the raw headers, request_body.first_headers)."""
    client = scope.get("client")
    host = client[0] if client else None
    return check_credentials(runtime, api_key, api_secret, host, permission, scope)
