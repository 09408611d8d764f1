"""/openapi.json, generated from the route table that serves the requests (operations.py).

Nothing here is declared twice: parameters, bounds, bodies, payloads and statuses all come from
the `Operation`s; this module only writes them in OpenAPI 3.1's shape. Whether the rate-limit
headers and 429 appear depends on whether the server limits (it documents what runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from velocimex_cli.engine.api.operations import Operation, Param
from velocimex_cli.engine.api.payloads import COMPONENTS, ref

_CONVERTER = re.compile(r"\{(\w+):\w+\}")

_RATE_HEADERS: dict[str, Any] = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "Epoch second when the oldest counted request leaves the window.",
        "schema": {"type": "integer"},
    },
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until a request would be allowed again.",
        "schema": {"type": "integer"},
        "required": True,
    }
}
METHOD_NOT_ALLOWED = (
    "Any method a path does not list answers 405 INVALID_PARAMETER"
    ' ({"parameter": "method"}) with an `Allow` header naming the methods it has.'
)


def document(
    operations: Iterable[Operation],
    *,
    title: str,
    version: str,
    description: str,
    rate_limited: bool,
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        path = _CONVERTER.sub(r"{\1}", operation.path)
        paths.setdefault(path, {})[operation.method.lower()] = _operation(operation, rate_limited)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": f"{description}\n\n{METHOD_NOT_ALLOWED}",
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "ApiSecret": {"type": "apiKey", "in": "header", "name": "X-API-Secret"},
            },
        },
        "security": [{"ApiKey": [], "ApiSecret": []}],
    }


def _operation(operation: Operation, rate_limited: bool) -> dict[str, Any]:
    headers = _RATE_HEADERS if rate_limited else {}
    responses: dict[str, Any] = {}
    for success in operation.success:
        responses[str(success.status)] = {
            "description": success.description,
            "headers": headers,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["status", "data"],
                        "properties": {
                            "status": {"type": "string", "enum": ["ok"]},
                            "data": success.data,
                        },
                    }
                }
            },
        }
    for status, when in operation.statuses(rate_limited).items():
        error_headers = {**headers, **_RETRY_AFTER} if status == 429 else headers
        responses[str(status)] = {
            "description": when,
            "headers": error_headers,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    parameters = [_parameter(p, "path") for p in operation.path_params]
    parameters += [_parameter(p, "query") for p in operation.query]
    spec: dict[str, Any] = {
        "tags": [operation.tag],
        "summary": operation.summary,
        "operationId": operation.handler.__name__,
        "parameters": parameters,
        "responses": responses,
    }
    text = operation.description
    if operation.extension:
        text = f"*Extension* (not in the Velocimex API reference; see docs/api.md). {text}"
    if text:
        spec["description"] = text.strip()
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _public(operation.body)}},
        }
    if operation.permission is None:
        spec["security"] = []
    elif operation.permission != "read":
        spec["description"] = (
            f"{spec.get('description', '')}\n\nNeeds a key with the"
            f" `{operation.permission}` permission."
        ).strip()
    return spec


def _parameter(param: Param, where: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": param.name,
        "in": where,
        "required": True if where == "path" else param.required,
        "schema": _public(param.schema),
    }
    if param.description:
        spec["description"] = param.description
    return spec


def _public(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without vmx's own keywords (`x-rule`: the error message for a pattern)."""
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "x-rule":
            continue
        if isinstance(value, dict):
            value = _public(value)
        cleaned[key] = value
    return cleaned
