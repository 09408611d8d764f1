"""Fixtures of the end-to-end tests (a module may define its own `engine` in its place)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.served_engine import Engine, free_port
from tests.e2e.terminal import COLUMNS, LINES
from tests.processes import VMX


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, str]]]:
    """One engine for the module (the reconnect test restarts it on the same port and data)."""
    tmp_path = tmp_path_factory.mktemp("watch")
    data_dir = tmp_path / "engine"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VMX_", "FORCE_COLOR"))}
    env["VMX_HOME"] = str(tmp_path / "home")
    created = subprocess.run(
        [*VMX, "engine", "keys", "create", "--data-dir", str(data_dir), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = json.loads(created.stdout)
    server = Engine(data_dir, free_port())
    server.start()
    env.update(
        VMX_API_URL=f"http://127.0.0.1:{server.port}",
        VMX_API_KEY=key["api_key"],
        VMX_API_SECRET=key["api_secret"],
        TERM="xterm-256color",
        COLUMNS=str(COLUMNS),
        LINES=str(LINES),
    )
    env.pop("NO_COLOR", None)
    try:
        yield server, env
    finally:
        server.stop()
