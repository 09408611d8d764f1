"""JSON responses written with wire.jsonfmt, so Decimal values keep their exact digits."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from velocimex_cli.wire import jsonfmt


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonfmt.dumps(content).encode("utf-8")


def ok(data: Any, status_code: int = 200) -> JsonResponse:
    """The reference's success envelope: {"status": "ok", "data": ...}."""
    return JsonResponse({"status": "ok", "data": data}, status_code=status_code)
