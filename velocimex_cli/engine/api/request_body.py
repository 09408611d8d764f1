"""Reading request bodies strictly against their declared schema; errors name the field."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.types import Scope

from velocimex_cli.engine.api.error_handlers import InvalidRequest
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal, parse_int

Schema = dict[str, Any]
MAX_NUMBER = Decimal(10) ** 15
MAX_TEXT = 256  # characters of any string field without its own maxLength


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


async def json_object(request: Request, schema: Schema) -> dict[str, Any]:
    """The body as a JSON object that satisfies the operation's declared `schema`, or an
    INVALID_PARAMETER error naming the first field that does not.

    Numbers come back as Decimal (never float). The schema is the one /openapi.json publishes
    (see `check_fields` for the keywords it may use); the engine then checks values against
    the market (instrument, tick, lot, balance).
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
            content_type[:100],
            "Send the body as JSON with the header Content-Type: application/json",
        )
    size = parse_int(declared) if declared is not None else None
    if size is not None and size > limit:
        raise _too_large(size, limit)
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
    check_fields(body, schema)
    return body


def check_fields(body: dict[str, Any], schema: Schema) -> None:
    """`body` against an object schema; raises INVALID_PARAMETER naming the field.

    The keywords understood are the ones the route table uses: `properties`, `required`,
    `additionalProperties: false`, and per property `type` (string, number, boolean, object,
    null, or a list of them; "number" also takes a numeric string, see `NUMBER_TEXT`),
    `enum`, `minLength`, `maxLength`, `pattern`, `exclusiveMinimum`, `exclusiveMaximum` and
    `maxProperties`. Anything else in a declaration is refused when it is built, not ignored.
    """
    properties: dict[str, Schema] = schema["properties"]
    for name, value in body.items():
        field = properties.get(name)
        if field is None:
            raise InvalidParameter(
                str(name)[:100],
                value,
                f"Unknown field {str(name)[:100]!r}; allowed fields: {', '.join(properties)}",
            )
        _check_value(name, value, field)
    for name in schema.get("required", ()):
        if body.get(name) is None:
            raise InvalidParameter(name, "", f"{name} is required")


def _check_value(name: str, value: Any, field: Schema) -> None:
    kinds = field["type"]
    if isinstance(kinds, str):
        kinds = (kinds,)
    if value is None:
        if "null" in kinds:
            return
        raise InvalidParameter(name, value, f"{name} must not be null")
    if isinstance(value, str) and "string" in kinds:
        if not field.get("minLength", 0) <= len(value) <= field.get("maxLength", MAX_TEXT):
            low, high = field.get("minLength", 0), field.get("maxLength", MAX_TEXT)
            rule = field.get("x-rule", f"{name} must be {low} to {high} characters long")
            raise InvalidParameter(name, value[:100], rule)
        enum = field.get("enum")
        if enum is not None and value not in enum:
            allowed = ", ".join(str(item) for item in enum if item is not None)
            raise InvalidParameter(name, value, f"{name} must be one of: {allowed}")
        pattern = field.get("pattern")
        if pattern is not None and _fullmatch(pattern, value) is None:
            if "number" in kinds:
                raise InvalidParameter(name, value, f"{name} must be a number")
            raise InvalidParameter(name, value, field.get("x-rule", f"{name} is not valid"))
        if "number" not in kinds:
            return
    elif "number" in kinds and not isinstance(value, bool) and isinstance(value, (int, Decimal)):
        pass
    elif isinstance(value, bool) and "boolean" in kinds:
        return
    elif isinstance(value, dict) and "object" in kinds:
        if len(value) > field.get("maxProperties", 100):
            raise InvalidParameter(
                name, f"{len(value)} keys", f"{name} has more than {field['maxProperties']} keys"
            )
        return
    else:
        raise InvalidParameter(name, value, f"{name} {_KIND_RULES.get(kinds[0], 'is invalid')}")
    number = parse_decimal(value)
    if number is None:
        raise InvalidParameter(name, value, f"{name} must be a number")
    low = field.get("exclusiveMinimum")
    if low is not None and number <= low:
        raise InvalidParameter(name, value, f"{name} must be greater than {low}")
    high = field.get("exclusiveMaximum", MAX_NUMBER)
    if number >= high:
        raise InvalidParameter(name, value, f"{name} is out of range (less than {high:g})")


_KIND_RULES = {
    "string": "must be a string",
    "number": "must be a number",
    "boolean": "must be true or false",
    "object": "must be a JSON object",
}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _fullmatch(pattern: str, text: str) -> re.Match[str] | None:
    """An anchored ECMA pattern (`^...$`) applied to the whole text (Python's `$` would also
    accept a trailing newline)."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern.removeprefix("^").removesuffix("$"))
    return compiled.fullmatch(text)


def _too_large(size: int, limit: int) -> InvalidRequest:
    return InvalidRequest(
        413, "body", f"{size} bytes", f"The request body is larger than the {limit}-byte limit"
    )
