"""Reading request bodies and query strings strictly, with errors that name the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.types import Scope

from velocimex_cli.engine.api.error_handlers import InvalidRequest
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal

FieldKinds = Mapping[str, str]  # field -> "string" | "boolean" | "object" | "number" | "any"
MAX_NUMBER = Decimal(10) ** 15

_KIND_CHECKS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "string": (str, "must be a string"),
    "boolean": (bool, "must be true or false"),
    "object": (dict, "must be a JSON object"),
}


def first_headers(scope: Scope, *names: bytes) -> list[str | None]:
    """The first value of each named header, read once from the raw ASGI list (lower-case
    names), or None; cheaper than building Starlette's Headers for a lookup or two."""
    found: list[str | None] = [None] * len(names)
    for name, value in scope["headers"]:
        if name in names:
            index = names.index(name)
            if found[index] is None:
                found[index] = value.decode("latin-1")
    return found


async def json_object(request: Request, fields: FieldKinds) -> dict[str, Any]:
    """The body as a JSON object with only the named fields, or an INVALID_PARAMETER error.

    Numbers come back as Decimal (never float); the JSON type of "string", "boolean" and
    "object" fields is checked here (null is allowed for strings), "number" fields are kept
    within +-1e15; the engine checks values.
    """
    scope = request.scope
    limit: int = scope["app"].state.runtime.settings.max_body_bytes
    content_type, declared = first_headers(scope, b"content-type", b"content-length")
    content_type = content_type or ""
    if content_type != "application/json" and (
        content_type.partition(";")[0].strip().lower() != "application/json"
    ):
        raise InvalidRequest(
            415,
            "content-type",
            content_type,
            "Send the body as JSON with the header Content-Type: application/json",
        )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    raw = b""
    more = True
    while more:
        message = await request.receive()
        if message["type"] != "http.request":
            break
        raw += message.get("body", b"")
        if len(raw) > limit:
            raise _too_large(len(raw), limit)
        more = message.get("more_body", False)
    if not raw.strip():
        raise InvalidParameter("body", "", "The request body is empty; send a JSON object")
    try:
        body = jsonfmt.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        shown = raw[:100].decode("utf-8", errors="replace")
        raise InvalidParameter("body", shown, f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        shown = raw[:100].decode("utf-8", errors="replace")
        raise InvalidParameter("body", shown, "The body's JSON is nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidParameter("body", type(body).__name__, "The body must be a JSON object")
    for name, value in body.items():
        kind = fields.get(name)
        if kind is None:
            raise InvalidParameter(
                name,
                value,
                f"Unknown field {name!r}; allowed fields: {', '.join(sorted(fields))}",
            )
        if kind == "number":
            number = parse_decimal(value)
            if number is not None and abs(number) >= MAX_NUMBER:
                raise InvalidParameter(name, value, f"{name} is out of range (at most 1e15)")
            continue
        check = _KIND_CHECKS.get(kind)
        if check is not None and not isinstance(value, check[0]):
            if kind == "string" and value is None:
                continue
            raise InvalidParameter(name, value, f"{name} {check[1]}")
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
