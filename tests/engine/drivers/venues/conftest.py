"""Fixtures of the venue tests: an engine mirroring a scripted venue (scripted_venue.py), and a
guard that every connection ccxt opens stays on loopback (the ccxt source tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.drivers.venues.scripted_venue import Mirrored, ScriptedSource


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture
def mirrored(source: ScriptedSource, tmp_path: Path) -> Iterator[Mirrored]:
    with Mirrored(source, tmp_path / "engine") as engine:
        engine.wait_loaded()
        yield engine


@pytest.fixture
def loopback_only() -> Iterator[list[str]]:
    """The peer address of every connection opened (asserted to be 127.0.0.1 at the end)."""
    hosts: list[str] = []
    original = asyncio.base_events.BaseEventLoop.create_connection

    async def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        transport, protocol = await original(self, *args, **kwargs)
        hosts.append(str(transport.get_extra_info("peername")[0]))
        return transport, protocol

    asyncio.base_events.BaseEventLoop.create_connection = recording  # type: ignore[method-assign]
    try:
        yield hosts
    finally:
        asyncio.base_events.BaseEventLoop.create_connection = original  # type: ignore[method-assign]
    assert hosts, "ccxt opened no connection at all"
    assert set(hosts) == {"127.0.0.1"}, f"ccxt left loopback: {sorted(set(hosts))}"
