"""The engine is served by Starlette through its documented API: no FastAPI, no framework layer
skipped by overriding its internals."""

from __future__ import annotations

import subprocess
import sys

from starlette.applications import Starlette
from starlette.testclient import TestClient

from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.api.rate_limit import EdgeMiddleware


def test_the_engine_does_not_import_fastapi() -> None:
    code = (
        "import sys\n"
        "from velocimex_cli.engine.api import server\n"
        "from velocimex_cli.engine.api.app import create_app\n"
        "create_app()\n"
        "print('fastapi' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_the_app_is_a_plain_starlette_app_with_the_edge_as_its_middleware() -> None:
    app = create_app()
    assert type(app) is Starlette
    assert [layer.cls for layer in app.user_middleware] == [EdgeMiddleware]
    with TestClient(app) as client:
        assert client.get("/openapi.json").json()["openapi"] == "3.1.0"
