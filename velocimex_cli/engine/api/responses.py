"""JSON responses written with wire.jsonfmt, so Decimal values keep their exact digits."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from velocimex_cli.wire import jsonfmt


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return jsonfmt.dumps(content).encode("utf-8")


_CONTENT_TYPE = (b"content-type", b"application/json")


def ok(data: Any, status_code: int = 200) -> JsonResponse:
    """The reference's success envelope: {"status": "ok", "data": ...}.

    Built directly (every REST answer passes here): Response.__init__ would work out the
    same two headers generically.
    """
    response = JsonResponse.__new__(JsonResponse)
    response.status_code = status_code
    response.background = None
    body = response.body = jsonfmt.dumps({"status": "ok", "data": data}).encode("utf-8")
    response.raw_headers = [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE]
    return response
