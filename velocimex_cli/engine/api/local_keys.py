"""The engine's loopback-only key endpoint: how the vmx on this machine gets and drops keys.

The CLI never opens the engine's database to provision a key (an in-memory engine has none,
and a file it opened could belong to another engine). Instead `vmx engine serve` draws a random
admin token at start, writes it into engine.json (0600, in the user's 0700 state directory) and
serves, with that token only:

    POST   /v1/local/keys  {"account", "name", "permissions", "ip_allow", "expires_in",
                            "local_profile"}                -> 201 the key and its secret
    GET    /v1/local/keys                                      -> 200 {"keys": [...]}
    DELETE /v1/local/keys/{api_key}                            -> 200 {"api_key", "revoked"}
    POST   /v1/local/keys/{api_key}/rotate {"grace_seconds"}   -> 200 the key and its new secret
    PATCH  /v1/local/keys/{api_key} {"permissions", "expires_in"} -> 200 the key as changed

`"local_profile": true` marks the key as the local profile's (name LOCAL_PROFILE_KEY_NAME) and
revokes every other active key so marked: the CLI provisions one when it has none stored (its
credentials file was lost, moved away or unreadable), and the key it lost must not stay valid.
Every change is written to the audit log (engine/audit.py) as made by "local admin".

Only a TCP peer on a loopback address is served (403 PERMISSION_DENIED otherwise, even with the
token), and the token is compared in constant time (401 AUTHENTICATION_ERROR). The routes exist
only on a server started with a token; they are not part of the Velocimex API (no OpenAPI).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from velocimex_cli import engine_record
from velocimex_cli.engine import audit
from velocimex_cli.engine.api.request_body import first_headers, json_object
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.engine.keys import (
    DEFAULT_GRACE_SECONDS,
    LOCAL_PROFILE_KEY_NAME,
    MAX_LIFETIME_SECONDS,
    KeyInfo,
    check_seconds,
    parse_permissions,
)
from velocimex_cli.wire.errors import (
    AuthenticationError,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)

ADMIN_TOKEN_HEADER = engine_record.ADMIN_TOKEN_HEADER.lower().encode("ascii")  # as ASGI gives it
PATH = "/v1/local/keys"
MAX_KEY_ID_LENGTH = 64
RESERVED_NAME = (
    f"The name {LOCAL_PROFILE_KEY_NAME!r} is kept for the local profile's provisioned key"
    " (a new one revokes the others so named); pick another name"
)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard(request: Request, token: str) -> None:
    client = request.scope.get("client")
    if not _is_loopback(client[0] if client else None):
        raise PermissionDenied("The local key endpoint answers loopback callers only")
    (given,) = first_headers(request.scope, ADMIN_TOKEN_HEADER)
    if given is None or not hmac.compare_digest(given.encode(), token.encode()):
        raise AuthenticationError(
            "Missing or wrong admin token; it is in engine.json of the vmx state directory"
        )


def _strings(body: dict[str, Any], field: str, default: list[str]) -> list[str]:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParameter(field, value, f'{field} is a list of strings, like ["read"]')
    return value


def _audit(request: Request, action: str, target: str, details: dict[str, Any]) -> None:
    runtime = request.app.state.runtime
    client = request.scope.get("client")
    actor = audit.Actor(audit.LOCAL_ADMIN, None, client[0] if client else None)
    settings = runtime.settings
    audit.record(settings.data_dir, actor, action, target, settings.clock(), details)


def _key_id(request: Request) -> str:
    api_key: str = request.path_params["api_key"]
    if len(api_key) > MAX_KEY_ID_LENGTH:
        raise InvalidParameter("api_key", api_key[:MAX_KEY_ID_LENGTH] + "…", "Not an API key")
    return api_key


def created_details(info: KeyInfo) -> dict[str, Any]:
    """What the audit log keeps of a new key (never its secret)."""
    return {
        "account": info.account,
        "name": info.name,
        "permissions": list(info.permissions),
        "ip_allow": list(info.ip_allow),
        "expires_at": info.expires_at,
    }


def routes(token: str) -> list[Route]:
    """The endpoint's routes for a server whose admin token is `token`."""

    async def create(request: Request) -> JsonResponse:
        _guard(request, token)
        body = await json_object(
            request.scope,
            request.receive,
            {"account": "string", "name": "string", "permissions": "any", "ip_allow": "any",
             "expires_in": "any", "local_profile": "any"},
        )  # fmt: skip
        account = body.get("account") or "local"
        name = body.get("name") or "default"
        permissions = _strings(body, "permissions", ["read", "trade"])
        ip_allow = _strings(body, "ip_allow", [])
        expires_in = body.get("expires_in")
        local_profile = body.get("local_profile", False)
        if not isinstance(local_profile, bool):
            raise InvalidParameter("local_profile", local_profile, "local_profile is true or false")
        if local_profile:
            name = LOCAL_PROFILE_KEY_NAME
        elif name == LOCAL_PROFILE_KEY_NAME:
            raise InvalidParameter("name", name, RESERVED_NAME)
        runtime = request.app.state.runtime
        runtime.ensure_started()
        keys = runtime.keys
        created = keys.create(account, name, permissions, ip_allow, expires_in)
        _audit(request, "key.create", created.api_key, created_details(created.info))
        if local_profile:
            lost = [
                info.api_key
                for info in keys.list(include_revoked=False)
                if info.name == LOCAL_PROFILE_KEY_NAME and info.api_key != created.api_key
            ]
            for api_key in lost:
                if keys.revoke(api_key):
                    why = "replaced by a new local-profile key"
                    _audit(request, "key.revoke", api_key, {"reason": why})
        return ok({**created.info.to_wire(), "api_secret": created.api_secret}, 201)

    async def rotate(request: Request) -> JsonResponse:
        _guard(request, token)
        api_key = _key_id(request)
        body = await json_object(request.scope, request.receive, {"grace_seconds": "any"})
        grace = body.get("grace_seconds", DEFAULT_GRACE_SECONDS)
        runtime = request.app.state.runtime
        runtime.ensure_started()
        rotated = runtime.keys.rotate(api_key, grace)
        info = rotated.info
        details = {"grace_seconds": grace, "previous_until": info.previous_until,
                   "expires_at": info.expires_at}  # fmt: skip
        _audit(request, "key.rotate", api_key, details)
        return ok({**info.to_wire(), "api_secret": rotated.api_secret})

    async def listing(request: Request) -> JsonResponse:
        _guard(request, token)
        runtime = request.app.state.runtime
        runtime.ensure_started()
        return ok({"keys": [info.to_wire() for info in runtime.keys.list()]})

    async def revoke(request: Request) -> JsonResponse:
        _guard(request, token)
        api_key = _key_id(request)
        runtime = request.app.state.runtime
        runtime.ensure_started()
        keys = runtime.keys
        if keys.get(api_key) is None:
            raise NotFound(f"No API key {api_key}", {"api_key": api_key})
        revoked = keys.revoke(api_key)
        if revoked:
            _audit(request, "key.revoke", api_key, {})
        return ok({"api_key": api_key, "revoked": revoked})

    async def update(request: Request) -> JsonResponse:
        _guard(request, token)
        api_key = _key_id(request)
        body = await json_object(
            request.scope, request.receive, {"permissions": "any", "expires_in": "any"}
        )
        if not body:
            raise InvalidParameter("body", "{}", "Name what to change: permissions, expires_in")
        runtime = request.app.state.runtime
        runtime.ensure_started()
        keys = runtime.keys
        info = keys.get(api_key)
        if info is None:
            raise NotFound(f"No API key {api_key}", {"api_key": api_key})
        # Both checked before either is applied: a bad field changes nothing.
        permissions = None
        if "permissions" in body:
            permissions = parse_permissions(_strings(body, "permissions", []))
        if body.get("expires_in") is not None:
            check_seconds("expires_in", body["expires_in"], MAX_LIFETIME_SECONDS, "expires_in")
        if permissions is not None:
            before = list(info.permissions)
            info = keys.set_permissions(api_key, permissions)
            details = {"permissions": list(info.permissions), "before": before}
            _audit(request, "key.permissions", api_key, details)
        if "expires_in" in body:
            info = keys.set_expiry(api_key, body["expires_in"])
            _audit(request, "key.expiry", api_key, {"expires_at": info.expires_at})
        return ok(info.to_wire())

    return [
        Route(PATH, create, methods=["POST"], include_in_schema=False),
        Route(PATH + "/{api_key}", update, methods=["PATCH"], include_in_schema=False),
        Route(PATH, listing, methods=["GET"], include_in_schema=False),
        Route(PATH + "/{api_key}", revoke, methods=["DELETE"], include_in_schema=False),
        Route(PATH + "/{api_key}/rotate", rotate, methods=["POST"], include_in_schema=False),
    ]


def install(app: Any, token: str) -> None:
    """Serve the endpoint on `app` (ahead of the API's own routes)."""
    for index, route in enumerate(routes(token)):
        app.router.routes.insert(index, route)
