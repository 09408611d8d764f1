"""The REST API as one declarative table: what each route accepts, answers and may fail with.

Each route module declares its `OPERATIONS`: method, path, permission, query and path parameters
(JSON Schema: type, bounds, enum, pattern), request body schema, success payload schema and the
statuses it can send. The same declarations drive both sides:

- serving: `mount()` installs one lean ASGI endpoint per path that authenticates with the
  declared permission, parses and bounds-checks every parameter and the body from the
  declaration, answers a method the path lacks with 405 and `Allow`, and sends the handler's
  answer once it is durable (group commit);
- documenting: `openapi.document()` turns the same table into /openapi.json.

A handler receives a `Call` with everything already checked. To add a route: write the handler,
append an `Operation` to its module's OPERATIONS; serving and the document follow.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from velocimex_cli.engine.api.auth import Principal, authenticate
from velocimex_cli.engine.api.error_handlers import InvalidRequest
from velocimex_cli.engine.api.rate_limit import send_internal_error
from velocimex_cli.engine.api.request_body import check_declaration, first_headers, json_object
from velocimex_cli.engine.api.responses import JsonResponse
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import ApiError, InvalidParameter, StorageUnavailable
from velocimex_cli.wire.numbers import parse_int

if TYPE_CHECKING:
    from velocimex_cli.engine.api.runtime import EngineRuntime
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.node import EngineNode

MAX_QUERY_BYTES = 4096  # a whole query string; each value has its own declared bound too
# The headers serving reads, in one pass over the raw list: the key pair, the body's type and size.
_HEADERS = (b"x-api-key", b"x-api-secret", b"content-type", b"content-length")

Schema = dict[str, Any]
Handler = Callable[["Call"], Awaitable[JsonResponse]]


@dataclass(frozen=True)
class Param:
    """A query or path parameter: its JSON Schema is both the documentation and the check."""

    name: str
    schema: Schema
    description: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        kind = self.schema.get("type")
        if kind not in ("string", "integer"):
            raise ValueError(f"parameter {self.name}: type must be string or integer")
        if kind == "string" and "maxLength" not in self.schema and "enum" not in self.schema:
            raise ValueError(f"parameter {self.name}: every string needs a maxLength or enum")
        if kind == "integer" and not {"minimum", "maximum"} <= set(self.schema):
            raise ValueError(f"parameter {self.name}: every integer needs minimum and maximum")

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    def parse(self, raw: str) -> Any:
        """The checked value of `raw`, or INVALID_PARAMETER saying what is allowed."""
        schema = self.schema
        if schema["type"] == "integer":
            low, high = schema["minimum"], schema["maximum"]
            number = parse_int(raw, 19) if len(raw) <= 40 else None
            if number is None or not low <= number <= high:
                rule = f"{self.name} must be a whole number from {low} to {high}"
                raise InvalidParameter(self.name, _shown(raw), rule)
            return number
        enum = schema.get("enum")
        if enum is not None:
            if raw not in enum:
                raise InvalidParameter(
                    self.name, _shown(raw), f"{self.name} must be one of: {', '.join(enum)}"
                )
            return raw
        low, high = schema.get("minLength", 1), schema["maxLength"]
        if not low <= len(raw) <= high:
            rule = schema.get("x-rule", f"{self.name} must be {low} to {high} characters long")
            raise InvalidParameter(self.name, _shown(raw), rule)
        pattern = _pattern(schema)
        if pattern is not None and pattern.fullmatch(raw) is None:
            raise InvalidParameter(
                self.name,
                _shown(raw),
                schema.get("x-rule", f"{self.name} must match {schema['pattern']}"),
            )
        return raw


def _shown(raw: str) -> str:
    """A rejected value as echoed in an error: bounded, so a huge input is not sent back."""
    return raw if len(raw) <= 100 else raw[:100] + "..."


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(schema: Schema) -> re.Pattern[str] | None:
    """The schema's ECMA pattern as a Python regex with `fullmatch` semantics.

    Declared patterns are anchored `^...$`; Python's `$` would also accept a trailing newline,
    so serving drops the anchors and uses fullmatch (end of text, like ECMA's `$`).
    """
    text = schema.get("pattern")
    if text is None:
        return None
    compiled = _PATTERNS.get(text)
    if compiled is None:
        inner = text.removeprefix("^").removesuffix("$")
        compiled = _PATTERNS[text] = re.compile(inner)
    return compiled


@dataclass(frozen=True)
class Success:
    """A success answer: its status, what it means, and the schema of the envelope's `data`."""

    status: int
    description: str
    data: Schema


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # Starlette syntax: `{symbol:path}` lets a raw slash through
    handler: Handler
    summary: str
    tag: str
    success: tuple[Success, ...]
    permission: str | None = "read"  # None: public, no key needed
    query: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    body: Schema | None = None
    # The body's rules are a wire declaration that the engine's entry enforces itself (the order:
    # wire/orders.py, checked by core/entry.parse_order with the same sentence for each mistake
    # as the client's pre-check): serving reads a JSON object and leaves the rest to the entry,
    # so nothing is checked twice. Otherwise serving checks the body against `body`.
    body_checked_by_entry: bool = False
    # Statuses beyond those every operation of its kind can send (see `statuses`), each with
    # when it is sent.
    errors: Mapping[int, str] = field(default_factory=dict)
    description: str = ""
    extension: bool = False  # not in the Velocimex API reference (documented in docs/api.md)
    # What a STORAGE_UNAVAILABLE answer says did not happen ("not placed"); None: "not done"
    # for a change, "not answered" for a read.
    not_done: str | None = None

    def __post_init__(self) -> None:
        if self.body is not None and not self.body_checked_by_entry:
            check_declaration(self.body)
        names = set(re.findall(r"\{(\w+)", self.path))
        if names != {param.name for param in self.path_params}:
            raise ValueError(f"{self.method} {self.path}: declare exactly the path's parameters")

    def statuses(self, rate_limited: bool) -> dict[int, str]:
        """Every error status this operation can send, with when."""
        found: dict[int, str] = {
            400: "A parameter or body field is invalid, or a query parameter is not one this"
            " route declares (INVALID_PARAMETER)."
        }
        if self.permission is not None:
            found[401] = "Missing, unknown or revoked key, or wrong secret (AUTHENTICATION_ERROR)."
            found[403] = (
                "The key lacks the permission or the caller's IP is not on its allow-list"
                " (PERMISSION_DENIED)."
            )
        if self.path_params:
            found[404] = (
                "Nothing at this path (NOT_FOUND): no such resource, or a path parameter that"
                " no route matches (a control character, a slash where none may be)."
            )
        if self.body is not None:
            found[413] = "The body is larger than the limit (INVALID_PARAMETER)."
            found[415] = "The body is not sent as application/json (INVALID_PARAMETER)."
        if rate_limited and self.permission is not None:
            found[429] = "Rate limit exceeded (RATE_LIMIT_EXCEEDED); see Retry-After."
        for status, when in self.errors.items():
            found[status] = when if status not in found else f"{when} Also: {found[status]}"
        found[500] = "Server fault (INTERNAL_ERROR); the engine log has the details."
        found[503] = (
            "The engine could not store a change (STORAGE_UNAVAILABLE, extension): nothing of"
            " it was executed, nor will be; or the answer would have shown changes it could"
            " not store. It stores again by itself once its storage works."
        )
        return dict(sorted(found.items()))


class Call:
    """One request to an operation, with its caller and every input already checked."""

    __slots__ = ("body", "path", "principal", "query", "runtime", "scope")

    def __init__(
        self,
        scope: Scope,
        runtime: EngineRuntime,
        principal: Principal | None,
        path: dict[str, Any],
        query: dict[str, Any],
        body: dict[str, Any] | None,
    ) -> None:
        self.scope = scope
        self.runtime = runtime
        self.principal = principal
        self.path = path
        self.query = query
        self.body = body

    @property
    def exchange(self) -> Exchange:
        """The engine's exchange (an operation runs only once the node has started)."""
        exchange = self.runtime.exchange
        if exchange is None:
            raise RuntimeError("the engine has not started")
        return exchange

    @property
    def node(self) -> EngineNode:
        """The running engine node (an operation runs only once it has started)."""
        node = self.runtime.node
        if node is None:
            raise RuntimeError("the engine has not started")
        return node

    @property
    def fields(self) -> dict[str, Any]:
        """The checked body of an operation that declares one."""
        if self.body is None:
            raise RuntimeError("this operation declares no body")
        return self.body

    @property
    def account(self) -> str:
        if self.principal is None:
            raise RuntimeError("a public operation has no account")
        return self.principal.account


def parse_query(scope: Scope, declared: tuple[Param, ...]) -> dict[str, Any]:
    """The declared query parameters with their defaults; unknown or repeated ones are errors.

    An unknown parameter is refused rather than ignored: `?limt=5` silently returning 100
    rows would be a wrong answer, not a convenience.
    """
    values = {param.name: param.default for param in declared}
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        _require(declared, values)
        return values
    if len(raw) > MAX_QUERY_BYTES:
        raise InvalidParameter(
            "query", f"{len(raw)} bytes", f"The query string is over {MAX_QUERY_BYTES} bytes"
        )
    by_name = {param.name: param for param in declared}
    seen: set[str] = set()
    try:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameter(
            "query", _shown(raw.decode("latin-1")), "The query string is not valid UTF-8"
        ) from None
    for name, value in pairs:
        param = by_name.get(name)
        if param is None:
            allowed = ", ".join(by_name) or "none"
            rule = f"Unknown query parameter {name[:100]!r}; allowed: {allowed}"
            raise InvalidParameter(_shown(name), value[:100], rule)
        if name in seen:
            raise InvalidParameter(name, value[:100], f"{name} is given more than once")
        seen.add(name)
        values[name] = param.parse(value)
    _require(declared, values)
    return values


def _require(declared: tuple[Param, ...], values: dict[str, Any]) -> None:
    for param in declared:
        if param.required and values.get(param.name) is None:
            raise InvalidParameter(param.name, "", f"{param.name} is required")


class Endpoint:
    """Every operation of one path as a bare ASGI app (Starlette's Route would add a layer).

    It answers every error itself, in the reference's shape: an `ApiError` with its status, a
    method the path lacks with 405 and `Allow`, anything else with a logged 500. So the edge
    can call `serve` directly for a path without parameters, with the rate-limit headers to
    add, and skip the router and the exception middleware (operations.direct_paths).
    """

    __slots__ = ("allow", "by_method", "runtime")

    def __init__(self, operations: Iterable[Operation], runtime: EngineRuntime) -> None:
        self.by_method = {op.method: op for op in operations}
        if "GET" in self.by_method:  # HEAD is GET without the body (the server drops it)
            self.by_method["HEAD"] = self.by_method["GET"]
        self.allow = ", ".join(sorted(self.by_method)).encode()
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(scope, receive, send, [])

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]
    ) -> None:
        try:
            status, body, headers = await self._answer(scope, receive)
        except ApiError as exc:
            if isinstance(exc, StorageUnavailable):
                exc = self._not_done(scope, exc)
            status, body, headers = exc.http_status, jsonfmt.dumps(exc.to_body()).encode(), []
            if status == 405:
                headers = [(b"allow", self.allow)]
        except Exception:
            await send_internal_error(scope, send, extra)
            return
        if extra:
            headers = [*headers, *extra]
        await _send(send, status, body, headers)

    def _not_done(self, scope: Scope, exc: StorageUnavailable) -> StorageUnavailable:
        """Say what did not happen, in this operation's words."""
        operation = self.by_method.get(scope["method"])
        if operation is None:
            return exc
        if operation.not_done is not None:
            what = operation.not_done
        elif operation.method in ("GET", "HEAD"):
            what = "not answered (it would have shown changes the engine rolled back)"
        else:
            return exc
        return StorageUnavailable.not_done(what, str(exc.details.get("reason", "unknown")))

    async def _answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes | memoryview, list[tuple[bytes, bytes]]]:
        operation = self.by_method.get(scope["method"])
        if operation is None:
            method = scope["method"]
            raise InvalidRequest(
                405,
                "method",
                method,
                f"Method {method} is not allowed on {scope['path']};"
                f" allowed: {self.allow.decode()}",
            )
        runtime = self.runtime
        key, secret, content_type, length = first_headers(scope, *_HEADERS)
        principal = (
            authenticate(runtime, scope, key, secret, operation.permission)
            if operation.permission is not None
            else None
        )
        path: dict[str, Any] = {}
        if operation.path_params:
            given = scope["path_params"]
            for param in operation.path_params:
                path[param.name] = param.parse(given[param.name])
        query = (
            parse_query(scope, operation.query)
            if operation.query or scope.get("query_string")
            else {}
        )
        body = (
            await json_object(
                scope,
                receive,
                None if operation.body_checked_by_entry else operation.body,
                limit=runtime.settings.max_body_bytes,
                declared=(content_type, length),
            )
            if operation.body is not None
            else None
        )
        if runtime.exchange is not None and runtime.exchange.state_unstored:
            raise runtime.exchange.unstored("not answered")
        response = await operation.handler(Call(scope, runtime, principal, path, query, body))
        exchange, node = runtime.exchange, runtime.node
        if exchange is not None and exchange.flush_pending and node is not None:
            await node.committed()  # acknowledged only once durable
        return response.status_code, response.body, response.raw_headers


async def _send(
    send: Send, status: int, body: bytes | memoryview, headers: list[tuple[bytes, bytes]]
) -> None:
    if not any(name == b"content-type" for name, _ in headers):
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def direct_paths(routes: Iterable[Any]) -> dict[str, Endpoint]:
    """The mounted endpoints whose path has no parameters, by path: the edge serves these
    without the router (see `Endpoint`)."""
    return {
        route.path: route.app
        for route in routes
        if isinstance(route, Route) and isinstance(route.app, Endpoint) and "{" not in route.path
    }


def routes(operations: Iterable[Operation], runtime: EngineRuntime) -> list[Route]:
    """One Starlette Route per path, in the order the paths first appear (hottest first)."""
    by_path: dict[str, list[Operation]] = {}
    for operation in operations:
        methods = by_path.setdefault(operation.path, [])
        if any(op.method == operation.method for op in methods):
            raise ValueError(f"{operation.method} {operation.path} is declared twice")
        methods.append(operation)
    mounted: list[Route] = []
    for path, ops in by_path.items():
        endpoint: ASGIApp = Endpoint(ops, runtime)
        mounted.append(Route(path, endpoint, include_in_schema=False))
    return mounted
