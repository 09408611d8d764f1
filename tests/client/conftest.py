"""The real engine app in-process for client tests, plus a key for an account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.cli.conftest import engine_settings
from velocimex_cli.engine.api.app import create_app


@dataclass
class Engine:
    client: TestClient
    api_key: str
    api_secret: str

    @property
    def transport(self) -> Any:
        return self.client._transport


@pytest.fixture
def engine() -> Iterator[Engine]:
    app = create_app(engine_settings())
    with TestClient(app) as client:
        created = app.state.runtime.keys.create("alice", "test", ("read", "trade"))
        yield Engine(client, created.api_key, created.api_secret)


@pytest.fixture(autouse=True)
def _own_home(isolated_home: Path) -> Path:
    """Every test here runs in a VMX_HOME of its own (tests/conftest.py)."""
    return isolated_home
