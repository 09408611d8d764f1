"""Fixtures for CLI tests: the real engine app in-process, driven through the real `vmx` app.

`Harness.run(...)` invokes the Typer app with a Factory whose client talks to the engine app
through Starlette's test transport (no sockets), with credentials in the environment, and with
terminal or non-terminal I/O streams as asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from velocimex_cli.cli.app import app as vmx_app
from velocimex_cli.cli.factory import Factory
from velocimex_cli.client.retry import RetryPolicy
from velocimex_cli.engine.api.app import create_app
from velocimex_cli.engine.api.settings import ServerSettings
from velocimex_cli.output.iostreams import IOStreams

OPEN_TIME = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
SUNDAY = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # equity venues closed


def fixed(moment: datetime) -> Any:
    return lambda: moment


def engine_settings(**overrides: Any) -> ServerSettings:
    values: dict[str, Any] = {
        "simulate": True,  # seeds the books at start ...
        "simulate_interval_seconds": 3600.0,  # ... and never steps during a test
        "always_open": False,
        "rest_limit_per_minute": 100_000,
        "clock": fixed(OPEN_TIME),
    }
    values.update(overrides)
    return ServerSettings(**values)


@dataclass
class Harness:
    client: TestClient
    api_key: str
    api_secret: str
    home: Path
    runner: CliRunner

    @property
    def transport(self) -> Any:
        return self.client._transport

    def env(self, **extra: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "VMX_HOME": str(self.home),
            "VMX_API_URL": "http://testserver",
            "VMX_API_KEY": self.api_key,
            "VMX_API_SECRET": self.api_secret,
            "VMX_PROFILE": None,
            "NO_COLOR": None,
            "FORCE_COLOR": None,
        }
        env.update(extra)
        return env

    def factory(self, tty: bool = False, transport: Any = None) -> Factory:
        io = IOStreams(stdout_tty=tty, stderr_tty=tty, stdin_tty=tty)
        return Factory(
            io,
            transport=transport or self.transport,
            retry=RetryPolicy(attempts=2, base_delay=0.0, max_rate_limit_wait=0.05),
        )

    def run(
        self,
        *args: str,
        tty: bool = False,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        transport: Any = None,
    ) -> Result:
        return self.runner.invoke(
            vmx_app,
            list(args),
            input=input,
            env=self.env(**(env or {})),
            obj=self.factory(tty, transport),
            prog_name="vmx",
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        from velocimex_cli.wire import jsonfmt

        result = self.run(*args, "--json", **kwargs)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return jsonfmt.loads(result.stdout)


def make_harness(
    tmp_path: Path, permissions: tuple[str, ...] = ("read", "trade"), **overrides: Any
) -> Iterator[Harness]:
    home = tmp_path / "vmx-home"
    home.mkdir(exist_ok=True)
    app = create_app(engine_settings(**overrides))
    with TestClient(app) as client:
        created = app.state.runtime.keys.create("alice", "test", permissions)
        yield Harness(client, created.api_key, created.api_secret, home, CliRunner())


@pytest.fixture(autouse=True)
def _own_home(isolated_home: Path) -> Path:
    """Every test here runs in a VMX_HOME of its own (tests/conftest.py)."""
    return isolated_home


@pytest.fixture
def vmx(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path)


@pytest.fixture
def vmx_sunday(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path, clock=fixed(SUNDAY))


@pytest.fixture
def vmx_limited(tmp_path: Path) -> Iterator[Harness]:
    yield from make_harness(tmp_path, rest_limit_per_minute=3)


@pytest.fixture(scope="session", autouse=True)
def _no_real_terminal_env() -> None:
    os.environ.pop("FORCE_COLOR", None)


def complete(vmx: Harness, line: str, *, transport: Any = None, **env: str | None) -> list[str]:
    """The candidates bash gets for `line` (the cursor at its end)."""
    words = line.split(" ")
    result = vmx.run(
        env={
            "_VMX_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
            **env,
        },
        transport=transport,
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def terminal_lines(vmx: Harness, width: int, *args: str, transport: Any = None) -> list[str]:
    """`vmx ARGS` on a terminal `width` columns wide (no colour): its lines, every one fitting."""
    result = vmx.run(
        *args, tty=True, env={"COLUMNS": str(width), "NO_COLOR": "1"}, transport=transport
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= width for line in lines), lines
    return lines


def table_cells(line: str) -> list[str]:
    """A printed table line's cells (header or row), stripped."""
    return [part.strip() for part in line.replace("┃", "│").split("│")]
