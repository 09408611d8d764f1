"""The caller's own key (extensions): GET /v1/auth/key shows it, POST /v1/auth/rotate gives it
a new secret.

Both are authenticated by the key itself. The secret the request was sent with keeps working for the
grace period (default DEFAULT_GRACE_SECONDS, at most MAX_GRACE_SECONDS), so a client that lost
the answer can still authenticate, and retry; any older secret stops at once. A key with a
lifetime is renewed by the rotation (it expires its lifetime after now).
"""

from __future__ import annotations

from typing import Any

from velocimex_cli.engine import audit
from velocimex_cli.engine.api.auth import verify_once
from velocimex_cli.engine.api.operations import Call, Operation, Success
from velocimex_cli.engine.api.request_body import first_headers
from velocimex_cli.engine.api.responses import JsonResponse, ok
from velocimex_cli.engine.keys import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
from velocimex_cli.wire.timefmt import iso

ROTATE_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "grace_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_GRACE_SECONDS,
            "description": "How long the secret this request is sent with keeps working"
            f" (default {DEFAULT_GRACE_SECONDS}; 0: it stops at once).",
        },
    },
}
ROTATED: dict[str, Any] = {
    "type": "object",
    "required": ["api_key", "api_secret", "rotated_at", "previous_until", "expires_at"],
    "properties": {
        "api_key": {"type": "string"},
        "api_secret": {"type": "string", "description": "The new secret, shown only now."},
        "rotated_at": {"type": "string", "format": "date-time"},
        "previous_until": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When the secret this request was sent with stops working.",
        },
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


OWN_KEY: dict[str, Any] = {
    "type": "object",
    "required": ["api_key", "account", "permissions", "expires_at", "secret_until"],
    "properties": {
        "api_key": {"type": "string"},
        "account": {"type": "string"},
        "name": {"type": "string"},
        "permissions": {"type": "array", "items": {"type": "string"}},
        "ip_allow": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string", "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "rotated_at": {"type": ["string", "null"], "format": "date-time"},
        "previous_until": {"type": ["string", "null"], "format": "date-time"},
        "secret_until": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Set when the secret sent was rotated out: when it stops working.",
        },
    },
}


async def own_key(call: Call) -> JsonResponse:
    assert call.principal is not None
    key, secret = first_headers(call.scope, b"x-api-key", b"x-api-secret")
    info = verify_once(call.runtime, call.scope, key or "", secret or "")
    assert info is not None  # the route authenticated this very pair
    until = None if info.secret_until is None else iso(info.secret_until)
    return ok({**info.to_wire(), "secret_until": until})


async def rotate(call: Call) -> JsonResponse:
    assert call.principal is not None
    body = call.body or {}
    grace = body.get("grace_seconds", DEFAULT_GRACE_SECONDS)
    (presented,) = first_headers(call.scope, b"x-api-secret")
    rotated = call.runtime.keys.rotate(call.principal.api_key, grace, presented)
    info = rotated.info
    audit.record_call(
        call,
        "key.rotate",
        info.api_key,
        {"grace_seconds": grace, "previous_until": info.previous_until,
         "expires_at": info.expires_at},
    )  # fmt: skip
    return ok(
        {
            "api_key": info.api_key,
            "api_secret": rotated.api_secret,
            "rotated_at": info.rotated_at,
            "previous_until": info.previous_until,
            "expires_at": info.expires_at,
        }
    )


OPERATIONS = (
    Operation(
        "GET",
        "/v1/auth/key",
        own_key,
        "The key this request is sent with",
        "auth",
        (Success(200, "The key, as `vmx engine keys list` shows it (never a secret).", OWN_KEY),),
        extension=True,
    ),
    Operation(
        "POST",
        "/v1/auth/rotate",
        rotate,
        "Rotate this key's secret",
        "auth",
        (Success(200, "The new secret (shown only now) and until when the old one works.",
                 ROTATED),),
        body=ROTATE_REQUEST,
        description="The key id stays; the secret the request was sent with keeps working"
        " for grace_seconds, then only the new one does. A key with a lifetime is renewed.",
        extension=True,
    ),
)  # fmt: skip
