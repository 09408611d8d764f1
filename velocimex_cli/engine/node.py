"""One place that assembles and runs an engine: exchange + store + clock + group commit + drivers.

Who builds one: the API server (engine/api/runtime.py) holds a node on its loop and keeps only
HTTP state; a backtest (engine/backtest/runner.py) builds one with nothing persisted, no
simulator and no deployments, on a `SimulatedClock`, adds its market feed and its strategy as
drivers and calls `step()` until the feed has no event left (each of the feed's steps replays a
batch of events and moves the clock). Nothing here reads a clock: the node's clock is injected
and handed to everything it builds.

Its drivers (the `Driver` protocol) are what drives the engine besides its users: the market
simulator and the strategy deployments, which `start()` adds as the settings say, then whatever
the caller adds with `add_driver` (a backtest's feed and strategy).

Two ways to run:
- on an asyncio loop (`start()` inside a running loop): commands are group-committed (one
  transaction per loop turn, `committed()` waits for it), the simulator steps on a timer and
  strategy deployments are served as their workers speak;
- stepped (`start()` with no running loop): every command commits at once, nothing happens until
  `step()` is called, and `step()` runs the engine's timers and then each driver in the order
  added: one simulator tick, then each deployment handles what it caused (waiting for its
  worker), so the same clock and seed give the same run.

When a group commit cannot be written (disk full, I/O error), the exchange has rolled its memory
back to the stored state and refuses state changes (engine/core/exchange.py); the node answers
the waiting callers STORAGE_UNAVAILABLE, logs the episode once, stops the strategy deployments
(what their workers were told may not have happened), pauses the simulator and the timers, and
tries a small write every STORAGE_RETRY_SECONDS until one works: then it logs that once and
trades again, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from velocimex_cli.engine.core.exchange import EngineConfig, Exchange
from velocimex_cli.engine.core.storage import Store
from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits
from velocimex_cli.engine.drivers.venues.spec import VenueMirror, fee_tiers
from velocimex_cli.wire.errors import StorageUnavailable

if TYPE_CHECKING:
    from velocimex_cli.engine.core.instruments import Instrument
    from velocimex_cli.engine.drivers.simulator import MarketSimulator
    from velocimex_cli.engine.drivers.strategies.deployments import Deployments
    from velocimex_cli.engine.drivers.venues.markets import SpecFile
    from velocimex_cli.engine.drivers.venues.mirror import SourceFactory, VenueMirrors

log = logging.getLogger("vmx.engine.node")

TIMER_SECONDS = 0.05  # how often the engine's timers (dead-man switches) see the clock
STORAGE_RETRY_SECONDS = 0.5  # while the store cannot write: how often it is tried again

Clock = Callable[[], datetime]


class Driver(Protocol):
    """What drives the engine besides its users: the market simulator, the strategy
    deployments, a backtest's market replay and strategy. A stepped node steps its drivers in
    the order they were added (`step()`); `close()` closes them in the reverse order."""

    def step(self) -> object: ...

    def close(self) -> None: ...


@dataclass
class NodeSettings:
    """How to build a node. `data_dir=None` and `store=None`: nothing is persisted."""

    data_dir: Path | None = None
    seed: int = 42
    always_open: bool = False
    simulate: bool = True  # step the simulator on a timer (loop mode)
    simulator: bool = True  # build the market simulator (a backtest replays a market instead)
    deployments: bool = True  # serve strategy deployments (a backtest runs its one in-process)
    sandbox_funds: dict[str, Decimal] | None = None  # a new account's funds (None: the default)
    simulate_interval_seconds: float = 0.2
    checkpoint_seconds: float | None = None  # background WAL checkpoints (a server's choice)
    # Start even when the database lacks commits the data directory had stored (see
    # engine/commit_record.py); the loss is logged.
    accept_data_loss: bool = False
    strategies: StrategyLimits = field(default_factory=StrategyLimits)
    # Real venues mirrored in place of the simulated exchanges of their names
    # (drivers/venues/mirror.py), and each venue's ccxt config (`--venue-config`).
    mirrors: tuple[VenueMirror, ...] = ()
    venue_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Builds a venue's source (None: ccxt's, which needs the `live` extra); tests inject one.
    venue_sources: SourceFactory | None = None
    # How the mirrors wait between retries (None: asyncio.sleep); tests inject one.
    venue_retry_sleep: Callable[[float], Awaitable[None]] | None = None


class EngineNode:
    def __init__(self, settings: NodeSettings, clock: Clock, *, store: Store | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._store = store
        self.exchange: Exchange = None  # type: ignore[assignment]  # set by start()
        self.simulator: MarketSimulator | None = None
        self.deployments: Deployments | None = None
        self.mirrors: VenueMirrors | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._commit_waiters: list[asyncio.Future[None]] = []
        self._flushes = 0  # group commits run so far (see `committed`)
        self._flush_failed: tuple[int, Exception] | None = None  # the last failed one
        self.drivers: list[Driver] = []
        self.started = False
        self._storage_failed_at: float | None = None  # monotonic start of a failure episode

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.started:
            return
        settings = self.settings
        config = EngineConfig(seed=settings.seed, always_open=settings.always_open)
        if settings.sandbox_funds is not None:
            config.sandbox_funds = dict(settings.sandbox_funds)
        mirroring: tuple[SourceFactory, SpecFile, dict[str, str]] | None = None
        if settings.mirrors:
            from velocimex_cli.engine.drivers.venues import markets, mirror

            sources = settings.venue_sources
            if sources is None:
                mirror.require_ccxt()  # refuse at once, before anything is opened
                sources = mirror.ccxt_source
            specs = markets.SpecFile(settings.data_dir)
            config.catalogue, halted = markets.mirrored_catalogue(
                settings.mirrors, specs.load(), fee_tiers(settings.venue_config)
            )
            mirroring = (sources, specs, halted)
        if self._store is not None:
            self.exchange = Exchange(config, self.clock, self._store)
        elif settings.data_dir is not None:
            from velocimex_cli.engine.store import open_exchange

            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.exchange = open_exchange(
                settings.data_dir,
                config,
                self.clock,
                checkpoint_seconds=settings.checkpoint_seconds,
                accept_data_loss=settings.accept_data_loss,
            )
        else:
            self.exchange = Exchange(config, self.clock)
        # A dead-man switch whose time passed while the engine was down fires now, before the
        # simulator or any request can trade against those orders.
        self.exchange.run_timers()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # stepped: commit each command at once, run nothing by itself
            loop = None
        mirrored = {m.exchange for m in settings.mirrors}
        if mirrored:
            self._unsimulate(mirrored)
        if settings.simulator:
            from velocimex_cli.engine.drivers.simulator import MarketSimulator

            simulated = [
                i for i in self.exchange.catalogue.instruments if i.exchange not in mirrored
            ]
            self.simulator = MarketSimulator(
                self.exchange, seed=settings.seed, instruments=simulated if mirrored else None
            )
            self.simulator.seed_books()
            self.add_driver(self.simulator)
        if settings.deployments:
            from velocimex_cli.engine.drivers.strategies.deployments import Deployments

            self.deployments = Deployments(
                self.exchange, settings.strategies, data_dir=settings.data_dir, loop=loop
            )
            self.add_driver(self.deployments)
        if mirroring is not None:
            from velocimex_cli.engine.drivers.venues.mirror import VenueMirrors

            sources, specs, halted = mirroring
            self.mirrors = VenueMirrors(
                self.exchange,
                settings.mirrors,
                settings.venue_config,
                sources,
                self.clock,
                specs,
                halted,
                settings.venue_retry_sleep or asyncio.sleep,
            )
            self.add_driver(self.mirrors)
        self.exchange.on_rollback = self._storage_failed
        self.started = True
        if loop is None:
            if self.deployments is not None:
                self.deployments.restore()
            return
        self.loop = loop
        if self.persistent:
            self.exchange.defer_commits(lambda: loop.call_soon(self.flush))
        if self.deployments is not None:
            self.deployments.restore()
            self._tasks.append(loop.create_task(self.deployments.run()))
        if self.mirrors is not None:
            self.mirrors.start(loop)
        if settings.simulate:
            self._tasks.append(loop.create_task(self._simulate()))
        self._tasks.append(loop.create_task(self._run_timers()))

    def _unsimulate(self, exchanges: set[str]) -> None:
        """The simulator's resting orders on exchanges now mirrored go: the venue's book
        replaces them (a command each, stored)."""
        from velocimex_cli.engine.drivers.simulator import MAKER, TAKER

        for name in (MAKER, TAKER):
            if self.exchange.has_account(name):
                for exchange in sorted(exchanges):
                    self.exchange.cancel_all(name, exchange)

    def market_status(self) -> list[dict[str, Any]]:
        """Each venue's status; a mirrored one's from its feed (drivers/venues/status.py)."""
        rows = self.exchange.market_status()
        return rows if self.mirrors is None else self.mirrors.status_rows(rows)

    @property
    def persistent(self) -> bool:
        return self._store is not None or self.settings.data_dir is not None

    @property
    def data_dir(self) -> Path | None:
        return self.settings.data_dir

    def candles(self, instrument: Instrument, interval: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` stored candles of `instrument` at `interval` (wire/candles.py),
        oldest first. Candles are kept with the engine's stored state (engine/candle_store.py):
        an engine without a data directory keeps none."""
        from velocimex_cli.engine.store import SqliteStore

        store = self.exchange._store
        if not isinstance(store, SqliteStore):
            return []
        return store.candles.read(instrument, interval, limit)

    def add_driver(self, driver: Driver) -> None:
        """Step `driver` after those added before it on every `step()` (the simulator, then
        the deployments, are added by `start()`); close it on `close()`."""
        self.drivers.append(driver)

    def step(self, count: int = 1) -> None:
        """`count` steps of the clock (stepped mode). In each, the engine's timers see the
        clock, then every driver steps in turn (one simulator tick, every deployment handling
        what it caused, a backtest's next event...). The caller moves the clock between steps,
        or a driver does (a backtest's feed). While the store cannot write, a step only tries
        it again (see `try_resume_storage`)."""
        run_timers = self.exchange.run_timers
        steps = [driver.step for driver in self.drivers]  # bound once: a backtest steps a lot
        for _ in range(count):
            if self._storage_failed_at is not None and not self.try_resume_storage():
                continue
            try:
                run_timers()
                for step in steps:
                    step()
            except StorageUnavailable:
                continue  # rolled back; the drivers were told (_storage_failed)

    async def _simulate(self) -> None:
        interval = self.settings.simulate_interval_seconds
        while True:
            await asyncio.sleep(interval)
            if self.simulator is None or self.exchange.storage_refusal is not None:
                continue
            try:
                self.simulator.step()
            except Exception:
                log.exception("simulator step failed")

    async def _run_timers(self) -> None:
        """Let the engine's timers see its clock advance: a dead-man switch fires at the first
        tick past its trigger time (also the first tick after a restart)."""
        while True:
            try:
                self.exchange.run_timers()
            except Exception:
                log.exception("engine timers failed")
            await asyncio.sleep(TIMER_SECONDS)

    # group commit -------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every command run since the last flush in one transaction, then release the
        callers that wait to acknowledge them (they fail with the error if the write does)."""
        waiters, self._commit_waiters = self._commit_waiters, []
        self._flushes += 1
        try:
            self.exchange.flush()
        except Exception as exc:
            self._flush_failed = (self._flushes, exc)
            if not isinstance(exc, StorageUnavailable):  # (that one: see _storage_failed)
                log.exception("could not commit the engine's changes")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # storage failures -------------------------------------------------------------------
    def _storage_failed(self) -> None:
        """A batch could not be stored and the exchange rolled back to the stored state: no
        driver may go on from what it was told of that batch (the exchange calls this)."""
        exchange = self.exchange
        reason = exchange.storage_refusal or "unknown"
        if self._storage_failed_at is None:
            self._storage_failed_at = time.monotonic()
            log.error(
                "cannot store the engine's changes (%s): the changes not stored were rolled "
                "back and answered as not done; refusing every change until the store works "
                "again (tried every %g s)%s",
                reason,
                STORAGE_RETRY_SECONDS,
                ""
                if not exchange.state_unstored
                else "; the store cannot be read either, so every request is refused",
            )
            if self.loop is not None:
                self._tasks.append(self.loop.create_task(self._retry_storage()))
        if self.mirrors is not None:
            self.mirrors.rolled_back()
        if self.deployments is not None:
            self.deployments.stop_after_rollback(
                f"stopped: the engine could not store its changes ({reason}) and rolled back "
                "what it had not stored, which this deployment may have been told of; its "
                "open orders stay as stored (deploy it again once the engine stores again)"
            )

    async def _retry_storage(self) -> None:
        while True:
            try:
                if self.try_resume_storage():
                    return
            except Exception:  # never give up: the engine would refuse changes for good
                log.exception("trying the store again failed")
            await asyncio.sleep(STORAGE_RETRY_SECONDS)

    def try_resume_storage(self) -> bool:
        """After a storage failure: put memory back to the stored state if that failed too,
        then try a small write; if it works, trade again. True once storing works."""
        exchange = self.exchange
        if self._storage_failed_at is None or exchange.storage_refusal is None:
            return True
        if exchange.state_unstored:
            if not exchange.reload_stored():
                return False
            if self.mirrors is not None:  # the books were replaced only now
                self.mirrors.rolled_back()
        if not exchange.storage_works():
            return False
        exchange.resume_storing()
        log.warning(
            "the engine stores its changes again: accepting changes (refused for %.1f s)",
            time.monotonic() - self._storage_failed_at,
        )
        self._storage_failed_at = None
        return True

    async def committed(self) -> None:
        """Return once every command run so far is durable (at once when nothing is pending);
        raise what the commit raised if it failed (the commands were rolled back).

        The batch's first command queued `flush` on the loop (`call_soon`, run in the order
        queued), so yielding once lets it run before this caller resumes: the commit it waits
        for is the next one, and no future or extra loop turn is needed to hear of it. (Only
        if that flush has somehow not run does the caller wait on a future that it settles.)
        """
        exchange = self.exchange
        if exchange is None or not exchange.flush_pending:
            return
        covering = self._flushes + 1  # the flush that stores what is pending now
        await asyncio.sleep(0)
        if self._flushes < covering:
            waiter = asyncio.get_running_loop().create_future()
            self._commit_waiters.append(waiter)
            await waiter
            return
        failed = self._flush_failed
        if failed is not None and failed[0] == covering:
            raise failed[1]

    async def stop(self) -> None:
        """Stop the drivers, save their state, commit, close the store (loop mode)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self.mirrors is not None:
            await self.mirrors.stop()
        self.close()

    def close(self) -> None:
        """Stop the drivers, save their state, commit and close the store."""
        if not self.started:
            return
        for driver in reversed(self.drivers):
            try:
                driver.close()
            except StorageUnavailable as exc:
                log.warning("could not save %s's state (%s)", _named(driver), exc.details["reason"])
            except Exception:
                log.exception("could not close %s cleanly", _named(driver))
        self.flush()
        self.exchange.close()
        self.started = False


def _named(driver: Driver) -> str:
    """How the log names a driver."""
    return {
        "MarketSimulator": "the simulator",
        "Deployments": "the strategy deployments",
        "VenueMirrors": "the mirrored venues",
    }.get(type(driver).__name__, type(driver).__name__)
