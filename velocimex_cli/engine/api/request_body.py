"""Reading request bodies strictly against their declared schema; errors name the field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from starlette.types import Receive, Scope

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


async def json_object(
    scope: Scope,
    receive: Receive,
    schema: Schema | Mapping[str, str] | None,
    *,
    limit: int | None = None,
    declared: tuple[str | None, str | None] | None = None,
) -> dict[str, Any]:
    """The body as a JSON object that satisfies the operation's declared `schema`, or an
    INVALID_PARAMETER error naming the first field that does not. With no `schema`, any JSON
    object (its handler's entry checks it).

    Numbers come back as Decimal (never float). The schema is the one /openapi.json publishes
    (see `check_fields` for the keywords it may use); the engine then checks values against
    the market (instrument, tick, lot, balance).

    `limit` (the server's max_body_bytes) and `declared` (the Content-Type and Content-Length
    headers) spare the hot path a lookup when its caller has them already.
    """
    if limit is None:
        limit = int(scope["app"].state.runtime.settings.max_body_bytes)
    if declared is None:
        content_type, length = first_headers(scope, b"content-type", b"content-length")
    else:
        content_type, length = declared
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
    size = parse_int(length) if length is not None else None
    if size is not None and size > limit:
        raise _too_large(size, limit)
    raw = b""
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        raw += message.get("body", b"")
        if len(raw) > limit:
            raise _too_large(len(raw), limit)
        more = message.get("more_body", False)
    if not raw.strip():
        raise InvalidParameter("body", "", "The request body is empty; send a JSON object")
    try:
        body = jsonfmt.loads_unique(raw)
    except jsonfmt.DuplicateKey as exc:
        raise InvalidParameter(
            exc.key[:100], "", f"{exc.key[:100]} is given more than once in the body; send it once"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        shown = raw[:100].decode("utf-8", errors="replace")
        raise InvalidParameter("body", shown, f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        shown = raw[:100].decode("utf-8", errors="replace")
        raise InvalidParameter("body", shown, "The body's JSON is nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidParameter("body", type(body).__name__, "The body must be a JSON object")
    if schema is None:
        return body
    if "properties" not in schema:  # an older {field: kind} declaration
        schema = schema_from_kinds(schema)
    check_fields(body, schema)  # type: ignore[arg-type]  # a {field: kind} one was converted above
    return body


BodyCheck = Callable[[dict[str, Any]], None]
_COMPILED: dict[int, tuple[Schema, BodyCheck]] = {}


def check_fields(body: dict[str, Any], schema: Schema) -> None:
    """`body` against an object schema (see `check_fields_slowly`), through a checker compiled
    once per schema: each field's common valid case (a known enum value, a matching name, a
    decimal within bounds) costs one or two comparisons; anything else takes the general path,
    which also words the error."""
    compiled = _COMPILED.get(id(schema))
    if compiled is None or compiled[0] is not schema:
        compiled = _COMPILED[id(schema)] = (schema, _compile(schema))
    compiled[1](body)


def _compile(schema: Schema) -> BodyCheck:
    properties: dict[str, Schema] = schema["properties"]
    checks = {name: _field_check(name, field) for name, field in properties.items()}
    required = tuple(schema.get("required", ()))

    def check(body: dict[str, Any]) -> None:
        for name, value in body.items():
            field_check = checks.get(name)
            if field_check is None:
                check_fields_slowly(body, schema)  # words the unknown-field error
            else:
                field_check(value)
        for name in required:
            if name not in body:
                raise InvalidParameter(name, "", f"{name} is required")

    return check


def _field_check(name: str, field: Schema) -> Callable[[Any], None]:
    def slow(value: Any) -> None:
        _check_value(name, value, field)

    kinds = field.get("type")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds or ())
    nullable = "null" in kinds
    enum = field.get("enum")
    if "string" in kinds and "number" not in kinds and enum is not None:
        allowed = frozenset(enum)

        def check_enum(value: Any) -> None:
            if not ((value.__class__ is str or value is None) and value in allowed):
                slow(value)

        return check_enum
    if "string" in kinds and "number" not in kinds and "pattern" in field:
        low, high = field.get("minLength", 0), field.get("maxLength", MAX_TEXT)
        match = _compiled_pattern(field["pattern"]).fullmatch

        def check_text(value: Any) -> None:
            if value is None and nullable:
                return
            if not (value.__class__ is str and low <= len(value) <= high and match(value)):
                slow(value)

        return check_text
    if "number" in kinds and not {"minimum", "maximum"} & set(field):
        above = field.get("exclusiveMinimum")
        below = field.get("exclusiveMaximum", MAX_NUMBER)

        def check_number(value: Any) -> None:
            if value is None and nullable:
                return
            if not (
                value.__class__ is Decimal and (above is None or value > above) and value < below
            ):
                slow(value)

        return check_number
    return slow


def check_fields_slowly(body: dict[str, Any], schema: Schema) -> None:
    """`body` against an object schema; raises INVALID_PARAMETER naming the field.

    The keywords understood are BODY_KEYWORDS (see `check_declaration`, which refuses any other
    when a route is declared rather than ignoring it here). A "number" field also takes a
    numeric string (read with wire.numbers.parse_decimal); a required field must be present
    (it may be null only if its type allows null).
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
        if name not in body:
            raise InvalidParameter(name, "", f"{name} is required")


def _check_value(name: str, value: Any, field: Schema) -> None:
    kinds = field.get("type")
    if kinds is None:  # any JSON value
        return
    if isinstance(kinds, str):
        kinds = (kinds,)
    if value is None:
        if "null" in kinds:
            return
        raise InvalidParameter(name, value, f"{name} must not be null")
    if isinstance(value, bool):
        if "boolean" in kinds:
            return
    elif isinstance(value, str):
        if "string" in kinds:
            _check_text(name, value, field, numeric="number" in kinds)
            if "number" not in kinds:
                return
            _check_number(name, value, field, integer=False)
            return
    elif isinstance(value, (int, Decimal)):
        if "integer" in kinds and (isinstance(value, int) or value == value.to_integral_value()):
            _check_number(name, value, field, integer=True)
            return
        if "number" in kinds:
            _check_number(name, value, field, integer=False)
            return
    elif isinstance(value, dict):
        if "object" in kinds:
            most = field.get("maxProperties", 100)
            if len(value) > most:
                raise InvalidParameter(
                    name, f"{len(value)} keys", f"{name} has more than {most} keys"
                )
            return
    elif isinstance(value, list) and "array" in kinds:
        most = field.get("maxItems", 100)
        if len(value) > most:
            raise InvalidParameter(name, f"{len(value)} items", f"{name} has over {most} items")
        items = field.get("items")
        if items is not None:
            for item in value:
                _check_value(name, item, items)
        return
    wanted = " or ".join(_KIND_RULES.get(kind, kind) for kind in kinds if kind != "null")
    raise InvalidParameter(name, value, f"{name} must be {wanted}")


def _check_text(name: str, value: str, field: Schema, numeric: bool) -> None:
    low, high = field.get("minLength", 0), field.get("maxLength", MAX_TEXT)
    if not low <= len(value) <= high:
        rule = field.get("x-rule", f"{name} must be {low} to {high} characters long")
        raise InvalidParameter(name, value[:100], rule)
    enum = field.get("enum")
    if enum is not None and value not in enum:
        allowed = ", ".join(str(item) for item in enum if item is not None)
        raise InvalidParameter(name, value, f"{name} must be one of: {allowed}")
    pattern = field.get("pattern")
    if pattern is not None and _fullmatch(pattern, value) is None:
        if numeric:
            raise InvalidParameter(name, value, f"{name} must be a number")
        raise InvalidParameter(name, value, field.get("x-rule", f"{name} is not valid"))


def _check_number(name: str, value: Any, field: Schema, integer: bool) -> None:
    number = parse_decimal(value)
    if number is None:
        raise InvalidParameter(name, value, f"{name} must be a number")
    low = field.get("exclusiveMinimum")
    if low is not None and number <= low:
        raise InvalidParameter(name, value, f"{name} must be greater than {low}")
    low = field.get("minimum")
    if low is not None and number < low:
        raise InvalidParameter(name, value, f"{name} must be at least {low}")
    high = field.get("maximum")
    if high is not None and number > high:
        raise InvalidParameter(name, value, f"{name} must be at most {high}")
    high = field.get("exclusiveMaximum", MAX_NUMBER)
    if number >= high:
        raise InvalidParameter(name, value, f"{name} is out of range (less than {high:g})")


BODY_KEYWORDS = frozenset(
    {
        "type", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "maxProperties", "maxItems", "items",
        "description", "example", "default", "format", "x-rule",
    }
)  # fmt: skip


def check_declaration(schema: Schema) -> None:
    """Refuse a body declaration this module would not enforce (so it cannot document a rule
    that never runs): an object with `properties`, `additionalProperties: false` and fields
    using only BODY_KEYWORDS."""
    if schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise ValueError("a request body is an object with additionalProperties: false")
    unknown = set(schema) - {"type", "additionalProperties", "required", "properties",
                             "description", "example"}  # fmt: skip
    if unknown:
        raise ValueError(f"request body keywords not enforced: {sorted(unknown)}")
    for name, field in schema["properties"].items():
        extra = set(field) - BODY_KEYWORDS
        if extra:
            raise ValueError(f"body field {name}: keywords not enforced: {sorted(extra)}")
    missing = set(schema.get("required", ())) - set(schema["properties"])
    if missing:
        raise ValueError(f"required fields not declared: {sorted(missing)}")


def schema_from_kinds(kinds: Mapping[str, str]) -> Schema:
    """An object schema from the older {field: "string" | "number" | "boolean" | "object" |
    "any"} declarations (strings may be null, as they always could)."""
    types = {
        "string": ["string", "null"],
        "number": ["number", "string", "null"],
        "boolean": ["boolean"],
        "object": ["object"],
    }
    properties: dict[str, Schema] = {}
    for name, kind in kinds.items():
        properties[name] = {"type": types[kind]} if kind in types else {}
    return {"type": "object", "additionalProperties": False, "properties": properties}


_KIND_RULES = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
}
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _fullmatch(pattern: str, text: str) -> re.Match[str] | None:
    """An anchored ECMA pattern (`^...$`) applied to the whole text (Python's `$` would also
    accept a trailing newline)."""
    return _compiled_pattern(pattern).fullmatch(text)


def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern.removeprefix("^").removesuffix("$"))
    return compiled


def _too_large(size: int, limit: int) -> InvalidRequest:
    return InvalidRequest(
        413, "body", f"{size} bytes", f"The request body is larger than the {limit}-byte limit"
    )
