"""Group commit: concurrent orders share transactions, and none is answered before it is on disk."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.engine.api.conftest import ORDER, auth_headers, settings
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.wire import jsonfmt


async def _post(app: object, path: str, body: dict, headers: dict[str, str], seen: list) -> None:
    """One request through the real ASGI app; `seen` gets what the disk held when it answered."""
    raw = jsonfmt.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
    }
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            order = jsonfmt.loads(message["body"])["data"]
            seen.append((order["order_id"], _on_disk(app, order["order_id"])))

    await app(scope, receive, send)  # type: ignore[operator]


def _on_disk(app: object, order_id: str) -> str | None:
    """The order's status as a second connection reads it from the database file."""
    db_path = app.state.runtime.exchange.db_path  # type: ignore[attr-defined]
    with sqlite3.connect(db_path) as other:
        row = other.execute("SELECT status FROM orders WHERE id = ?", (int(order_id),)).fetchone()
    return row[0] if row else None


@pytest.mark.anyio
async def test_every_acknowledged_order_is_already_on_disk(tmp_path: Path) -> None:
    app = create_app(settings(data_dir=tmp_path / "engine"))
    async with app.router.lifespan_context(app):
        headers = auth_headers(app.state.runtime.keys)
        seen: list[tuple[str, str | None]] = []
        for _ in range(3):
            await asyncio.gather(
                *(_post(app, "/v1/trading/orders", ORDER, headers, seen) for _ in range(25))
            )
    assert len(seen) == 75
    assert len({order_id for order_id, _ in seen}) == 75
    assert all(status == "open" for _, status in seen), seen
