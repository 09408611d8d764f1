"""Reading request bodies and query strings strictly, with errors that name the parameter."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request

from velocimex_cli.engine.api.error_handlers import InvalidRequest
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter


async def json_object(
    request: Request,
    allowed: Collection[str],
    strings: Collection[str] = (),
    booleans: Collection[str] = (),
    objects: Collection[str] = (),
) -> dict[str, Any]:
    """The body as a JSON object with only `allowed` keys, or an INVALID_PARAMETER error.

    Numbers come back as Decimal (never float); `strings`/`booleans`/`objects` name fields whose
    JSON type is checked here (the engine validates values).
    """
    limit: int = request.app.state.runtime.settings.max_body_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise InvalidRequest(
            415,
            "content-type",
            content_type,
            "Send the body as JSON with the header Content-Type: application/json",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidParameter("body", "", "The request body is empty; send a JSON object")
    try:
        body = jsonfmt.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(
            "body",
            raw[:100].decode("utf-8", errors="replace"),
            f"The body is not valid JSON: {exc}",
        ) from None
    if not isinstance(body, dict):
        raise InvalidParameter("body", type(body).__name__, "The body must be a JSON object")
    for name in body:
        if name not in allowed:
            raise InvalidParameter(
                name,
                body[name],
                f"Unknown field {name!r}; allowed fields: {', '.join(sorted(allowed))}",
            )
    for name in strings:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise InvalidParameter(name, body[name], f"{name} must be a string")
    for name in booleans:
        if name in body and not isinstance(body[name], bool):
            raise InvalidParameter(name, body[name], f"{name} must be true or false")
    for name in objects:
        if name in body and not isinstance(body[name], dict):
            raise InvalidParameter(name, body[name], f"{name} must be a JSON object")
    return body


def _too_large(size: int, limit: int) -> InvalidRequest:
    return InvalidRequest(
        413, "body", f"{size} bytes", f"The request body is larger than the {limit}-byte limit"
    )


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.lstrip("-").isdigit():
        raise InvalidParameter(name, raw, f"{name} must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise InvalidParameter(name, raw, f"{name} must be a whole number from {low} to {high}")
    return value


def str_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw
