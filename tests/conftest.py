"""Shared fixtures: an engine on a fixed clock and seed, temporary data directories."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import process_guard
from velocimex_cli.engine.core.exchange import EngineConfig, Exchange

_SUITE: process_guard.Session | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Mark every process the tests start (see tests/process_guard.py): in each pytest process,
    xdist's workers included, before any test module is imported."""
    global _SUITE
    if Path("/proc/self/stat").exists():
        _SUITE = process_guard.mark()


@pytest.fixture(autouse=True, scope="session")
def no_process_left_behind() -> Iterator[None]:
    """Fails the session (an error at the last test's teardown, loud) if an engine or a strategy
    worker the tests started still runs once they all ended; what is found is killed."""
    yield
    if _SUITE is not None:
        found = process_guard.left_behind(_SUITE)
        if found:
            pytest.fail(process_guard.report(found), pytrace=False)


@pytest.fixture(autouse=True, scope="session")
def private_vmx_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the caller's VMX_HOME (their settings, keys, engine): every
    test session gets its own, and tests that need a home of their own set it themselves."""
    saved = os.environ.get("VMX_HOME")
    os.environ["VMX_HOME"] = str(tmp_path_factory.mktemp("vmx-home"))
    yield
    if saved is None:
        os.environ.pop("VMX_HOME", None)
    else:
        os.environ["VMX_HOME"] = saved


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A VMX_HOME of the test's own (created), with no profile, URL or key from the caller's
    environment. tests/cli and tests/client use it for every test (their conftest.py)."""
    home = tmp_path / "vmx-home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("VMX_HOME", str(home))
    for name in ("VMX_PROFILE", "VMX_API_URL", "VMX_API_KEY", "VMX_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return home


# A Tuesday, 10:00 in New York: every venue is open.
MARKET_OPEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self, start: datetime = MARKET_OPEN) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_exchange(clock: FakeClock) -> Callable[..., Exchange]:
    def make(**config: object) -> Exchange:
        exchange = Exchange(EngineConfig(**config), clock)  # type: ignore[arg-type]
        exchange.ensure_account("alice")
        exchange.ensure_account("bob")
        return exchange

    return make


@pytest.fixture
def exchange(make_exchange: Callable[..., Exchange]) -> Exchange:
    return make_exchange()
