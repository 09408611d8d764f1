"""A fake exchange (tests/fakes/) served on a background thread's event loop, for tests whose
engine runs in another process (`vmx engine start --mirror ... --venue-config FILE`): the test
drives the fake from its own thread through `call`, which runs on the fake's loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class VenueThread:
    """`fake` (a FakeBinance, FakeKraken or FakeCoinbase, built by `make` on the thread's loop)
    served on 127.0.0.1 once `come_up()` is called; until then connections are refused."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.fake: Any = self._run(self._make(make))
        self._heartbeat: Future[None] | None = None

    @staticmethod
    async def _make(make: Callable[[], Any]) -> Any:
        return make()  # (the fake's queues belong to the loop it is built on)

    def _run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` on the fake's loop; its result."""

        async def run() -> T:
            return function(*args, **kwargs)

        result: T = self._run(run())
        return result

    def come_up(self) -> None:
        self._run(self.fake.server.come_up())

    def subscribed(self, topic: str, timeout: float = 30) -> None:
        self._run(self.fake.server.subscribed(topic, timeout), timeout + 5)

    def beat(self, every: float, pulse: Callable[[], None]) -> None:
        """Call `pulse` on the fake's loop every `every` seconds (a venue that keeps talking while
        its book is quiet, so that only a stall is silent)."""

        async def beating() -> None:
            while True:
                await asyncio.sleep(every)
                pulse()

        self._heartbeat = asyncio.run_coroutine_threadsafe(beating(), self.loop)

    def venue_config(self, path: Path, venue: str, **tuning: float) -> Path:
        """Write the `--venue-config` file pointing `venue` here (with the source's `vmx`
        tuning); its path."""
        path.write_text(json.dumps({venue: {**self.fake.config(), "vmx": tuning}}), "utf-8")
        return path

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        try:
            self._run(self.fake.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
