"""The local profile's keys, asked of the running local engine's own loopback key endpoint.

The CLI never opens the engine's database: it provisions, rotates and revokes the local
profile's key through the endpoint documented in docs/api.md ("Local key endpoint"),
authenticated by the admin token the engine recorded in engine.json (engine_record).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from velocimex_cli.engine_record import ADMIN_TOKEN_HEADER, EngineStatus
from velocimex_cli.local.launcher import tls_context

LOCAL_KEYS_PATH = "/v1/local/keys"


class EngineAdminError(RuntimeError):
    """The recorded engine has no local key endpoint (an engine from an older vmx)."""


def admin_request(
    engine: EngineStatus, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call the engine's loopback-only key endpoint (see docs/api.md, "Local key endpoint")."""
    if not engine.admin_token:
        raise EngineAdminError(
            f"The engine at {engine.url} (pid {engine.pid}) has no local key endpoint"
            " (it was started by an older vmx); restart it with `vmx engine stop`."
        )
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        engine.url.rstrip("/") + path, data=data, method=method,
        headers={ADMIN_TOKEN_HEADER: engine.admin_token, "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        context = tls_context(engine.tls_cert)
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:
            payload = json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        from velocimex_cli.wire.errors import error_from_body

        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        raise error_from_body(body, exc.code) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        from velocimex_cli.wire.errors import Unreachable

        reason = str(getattr(exc, "reason", exc))
        hint = "see `vmx engine status` and `vmx engine logs`"
        raise Unreachable(engine.url, reason, hint) from None
    data_part = payload.get("data") if isinstance(payload, dict) else None
    return data_part if isinstance(data_part, dict) else {}


def provision_key(
    engine: EngineStatus,
    account: str = "local",
    permissions: Sequence[str] = ("read", "trade"),
) -> tuple[str, str]:
    """Create the local profile's API key through the running engine's own API: (key, secret).

    The engine marks it as the local profile's key and revokes any other key so marked: the
    CLI provisions only when it has no usable key stored, so an earlier one was lost (its
    credentials file moved away, unreadable, or the key refused) and must not stay valid.
    Works the same for an in-memory engine (the key lives where that engine reads keys).
    """
    from velocimex_cli.wire.errors import InvalidParameter

    body = {"account": account, "permissions": list(permissions), "local_profile": True}
    try:
        created = admin_request(engine, "POST", LOCAL_KEYS_PATH, body)
    except InvalidParameter as exc:
        if exc.details.get("parameter") != "local_profile":
            raise
        # An engine started by an older vmx (still running across an upgrade) has no marker:
        # it gets the key the old way, and revokes nothing.
        del body["local_profile"]
        created = admin_request(engine, "POST", LOCAL_KEYS_PATH, {**body, "name": "vmx-local"})
    return str(created["api_key"]), str(created["api_secret"])


def rotate_key(engine: EngineStatus, api_key: str, grace_seconds: int) -> dict[str, Any]:
    """A new secret for `api_key` through the engine's API: the key as listed, plus
    `api_secret`; the old secret works for `grace_seconds` more."""
    from urllib.parse import quote

    path = f"{LOCAL_KEYS_PATH}/{quote(api_key, safe='')}/rotate"
    return admin_request(engine, "POST", path, {"grace_seconds": grace_seconds})


def revoke_key(engine: EngineStatus, api_key: str) -> bool:
    """Revoke a key through the engine's API; False if it was already revoked."""
    from urllib.parse import quote

    answer = admin_request(engine, "DELETE", f"{LOCAL_KEYS_PATH}/{quote(api_key, safe='')}")
    return bool(answer.get("revoked"))
