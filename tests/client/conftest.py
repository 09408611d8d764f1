"""The real engine app in-process for client tests, plus a key for an account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
def isolated_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VMX_HOME", str(tmp_path / "home"))
    for name in ("VMX_PROFILE", "VMX_API_URL", "VMX_API_KEY", "VMX_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"
