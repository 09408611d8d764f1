"""The API when the engine cannot store: 503 STORAGE_UNAVAILABLE, never executed, never shown.

The real app on a real engine.db whose connection may not grow it any more (SQLite's
max_page_count gives the SQLITE_FULL of a full disk). An order whose group commit fails is
answered 503 "not placed"; no read and no WebSocket event ever shows it; changes are refused
meanwhile ("not placed", "not canceled"); once the store can write again the same engine takes
orders again by itself, and the episode is one log line, its end another.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.engine.api.conftest import ORDER, auth_headers, receive, settings
from velocimex_cli.engine.api.app import create_app

ORDERS = "/v1/trading/orders"
MARKET = {**ORDER, "type": "market", "price": None}


def order_ids(client: TestClient, headers: dict[str, str]) -> list[str]:
    listed = client.get(ORDERS + "?status=all&limit=1000", headers=headers)
    assert listed.status_code == 200, listed.text
    return sorted(o["order_id"] for o in listed.json()["data"]["orders"])


def test_an_order_the_engine_cannot_store_is_not_done_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings(data_dir=tmp_path / "engine"))
    with TestClient(app) as client:
        headers = auth_headers(app.state.runtime.keys)
        first = client.post(ORDERS, json=ORDER, headers=headers)
        assert first.status_code == 201, first.text
        acknowledged = [first.json()["data"]["order_id"]]
        with client.websocket_connect("/v1/ws/orders", headers=dict(headers)) as ws:
            assert receive(ws)["type"] == "authenticated"
            connection = app.state.runtime.exchange._store.connection
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            connection.execute(f"PRAGMA max_page_count = {pages}")

            refused: dict[str, Any] | None = None
            for number in range(3000):
                request = MARKET if number % 3 == 0 else ORDER
                answer = client.post(ORDERS, json=request, headers=headers)
                if answer.status_code == 201:
                    acknowledged.append(answer.json()["data"]["order_id"])
                    continue
                assert answer.status_code == 503, answer.text
                refused = answer.json()["error"]
                break
            assert refused is not None, "the store never refused a commit"
            assert refused["code"] == "STORAGE_UNAVAILABLE"
            assert refused["message"] == (
                "not placed: the engine could not store it; nothing was executed"
            )
            assert refused["details"]["executed"] is False
            assert "full" in refused["details"]["reason"]
            assert order_ids(client, headers) == sorted(acknowledged)

            again = client.post(ORDERS, json=ORDER, headers=headers)
            assert again.status_code == 503
            assert again.json()["error"]["message"].startswith("not placed:")
            cancel = client.delete(f"{ORDERS}/{acknowledged[0]}", headers=headers)
            assert cancel.status_code == 503
            assert cancel.json()["error"]["message"].startswith("not canceled:")
            assert order_ids(client, headers) == sorted(acknowledged)

            connection.execute("PRAGMA max_page_count = 1000000")
            deadline = time.monotonic() + 10
            while True:
                later = client.post(ORDERS, json=ORDER, headers=headers)
                if later.status_code == 201:
                    break
                assert later.status_code == 503, later.text
                assert time.monotonic() < deadline, "the engine did not store again"
                time.sleep(0.05)
            later_id = later.json()["data"]["order_id"]
            acknowledged.append(later_id)

            streamed: set[str] = set()
            while later_id not in streamed:
                message = receive(ws)
                if message["type"] in ("order", "fill"):
                    streamed.add(message["order_id"])
            assert streamed <= set(acknowledged)
        assert order_ids(client, headers) == sorted(acknowledged)

    failures = [r for r in caplog.records if "cannot store the engine's changes" in r.message]
    recoveries = [r for r in caplog.records if "stores its changes again" in r.message]
    assert len(failures) == 1 and failures[0].exc_info is None
    assert len(recoveries) == 1
    assert not [r for r in caplog.records if r.exc_info is not None]
