"""Strategy deployments on an engine node: each strategy runs in its own worker process.

`Deployments` is what the API serves (deploy, list, logs, stop, user strategies) and what the
node drives (see engine/node.py): it is given the node's exchange, loop (None on a stepped
node), strategy limits and data directory, and reaches for nothing else. Its parts:

- uploads.py: the strategies it can deploy (registry) and the admission of user code;
- deployment.py, worker_session.py, remote_host.py: one deployment's lifecycle, its worker's
  side of the conversation, and the host on the node that stands in for the strategy;
- supervision.py: who serves the workers, on a loop or stepped, and how they all end;
- deployment_records.py: the records kept in the store, and what a restart makes of them.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections import deque
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.core.exchange import Interest
from velocimex_cli.engine.drivers.strategies.deployment import Deployment
from velocimex_cli.engine.drivers.strategies.deployment_records import DeploymentRecords
from velocimex_cli.engine.drivers.strategies.event_values import instrument_spec
from velocimex_cli.engine.drivers.strategies.host import STOPPED
from velocimex_cli.engine.drivers.strategies.isolation import WorkerProcess
from velocimex_cli.engine.drivers.strategies.protocol import DeploySpec, pack_value
from velocimex_cli.engine.drivers.strategies.remote_host import RemoteHost, remote_strategy
from velocimex_cli.engine.drivers.strategies.supervision import WorkerSupervision
from velocimex_cli.engine.drivers.strategies.uploads import StrategyUploads
from velocimex_cli.engine.drivers.strategies.worker_session import error_body
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import ApiError, InternalError, InvalidParameter, NotFound

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits

log = logging.getLogger("vmx.engine.strategies")


class Deployments:
    """Every deployment of one node, and the strategies it can deploy."""

    def __init__(
        self,
        exchange: Exchange,
        limits: StrategyLimits,
        *,
        data_dir: Path | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.exchange = exchange
        self.limits = limits
        self.loop = loop
        self.uploads = StrategyUploads(data_dir, limits)
        self.registry = self.uploads.registry
        self._all: dict[str, Deployment] = {}
        self.records = DeploymentRecords(exchange, limits, self._all, self)
        self.supervision = WorkerSupervision(loop, limits, self._all, self.records)
        self._listening = False

    # -- what a deployment needs of them (worker_session.Manager) -------------------------
    def share_each(self) -> float:
        """Each running deployment's share of the engine's thread (loop mode)."""
        running = sum(1 for d in self._all.values() if d.phase in ("running", "stopping"))
        return self.limits.loop_share / max(1, running)

    def save(self) -> None:
        self.records.save()

    def unwatch(self, worker: WorkerProcess) -> None:
        self.supervision.unwatch(worker)

    # -- what the node drives (engine/node.py) ------------------------------------------
    def restore(self) -> None:
        """Bring back the saved deployments, stopped (see deployment_records.py)."""
        self.records.restore()

    async def run(self) -> None:
        """Loop mode: enforce time budgets and fire timers (see supervision.py)."""
        await self.supervision.run()

    def step(self) -> None:
        """Stepped mode: every deployment handles what the node's step caused."""
        self.supervision.settle()

    def stop_after_rollback(self, reason: str) -> None:
        """The engine rolled back what it had not stored: every deployment stops at once."""
        self.supervision.stop_after_rollback(reason)

    def close(self) -> None:
        """The engine stops: every running deployment stops (orders canceled), state saved."""
        self.supervision.shutdown()

    # -- deploying -----------------------------------------------------------------------
    def _new(self, strategy_id: str, account: str) -> Deployment:
        deployment_id = f"dep-{self.records.take_number()}"
        deployment = Deployment(self, deployment_id, strategy_id, account, self.limits)
        deployment.host = None
        deployment.logs = deque(maxlen=max(1, self.limits.log_lines))
        return deployment

    def _spawn(
        self, deployment: Deployment, params: Mapping[str, Any], exchange: str, symbol: str
    ) -> None:
        from velocimex_cli.engine.drivers.strategies.worker import run_worker

        spec = DeploySpec(
            deployment_id=deployment.deployment_id,
            strategy_id=deployment.strategy_id,
            source=self.registry.source_of(deployment.account, deployment.strategy_id),
            params=pack_value(dict(params)),
            instrument=instrument_spec(self.exchange.catalogue.find(exchange, symbol)),
        )
        deployment.worker = WorkerProcess(
            run_worker,
            (spec, self.limits.memory_bytes),
            **self.uploads.worker_options(self.limits.cpu_seconds),
        )
        deployment.busy = "__init__"
        deployment.busy_since = time.monotonic()
        deployment.budget = self.limits.start_seconds

    def _check_request(
        self, account: str, strategy_id: str, exchange: object, symbol: object, params: object
    ) -> None:
        self.registry.get(account, strategy_id)  # a built-in or the account's own
        active = sum(1 for d in self._all.values() if d.phase != "finished")
        if active >= self.limits.max_running:
            raise InvalidParameter(
                "strategy_id",
                strategy_id,
                f"at most {self.limits.max_running} deployments run at once on this engine; "
                "stop one first (vmx strategy status, vmx strategy stop)",
                limit=self.limits.max_running,
            )
        if not isinstance(exchange, str) or not isinstance(symbol, str):
            raise InvalidParameter(
                "exchange" if not isinstance(exchange, str) else "symbol",
                exchange if not isinstance(exchange, str) else symbol,
                "exchange and symbol are required, e.g. BINANCE and BTC/USDT",
            )
        self.exchange.instrument(exchange, symbol)
        if params is not None and not isinstance(params, dict):
            raise InvalidParameter("params", params, "params must be an object of name: value")

    def _launch(self, deployment: Deployment, exchange: str, symbol: str) -> dict[str, Any]:
        """After the worker is ready: the host, on_start, and the first hooks."""
        if deployment.start_error is not None:
            raise _error_from(deployment.start_error)
        params = deployment.validated or {}
        stand_in = remote_strategy(deployment, deployment.hooks)
        try:
            host = RemoteHost(
                self.exchange,
                stand_in,
                deployment_id=deployment.deployment_id,
                account=deployment.account,
                exchange_name=exchange,
                symbol=symbol,
                params=params,
                log_sink=deployment.add_log,
                max_log_lines=self.limits.log_lines,
            )
        except BaseException:
            deployment.stop_worker()
            raise
        host.deployment = deployment
        deployment.host = host
        deployment.phase = "running"
        self._all[deployment.deployment_id] = deployment
        if not self._listening:
            # A wake-up call only: it needs nothing built for itself.
            self.exchange.add_listener(
                self.supervision.on_event, Interest(accounts=frozenset(), books=False)
            )
            self._listening = True
        host.log(f"deployed on {exchange}:{symbol} with {jsonfmt.dumps(params)}", "info")
        host.start()
        deployment.feed()
        self.save()
        return deployment.status()

    async def deploy(
        self,
        account: str,
        strategy_id: str,
        exchange: object,
        symbol: object,
        params: object,
        permissions: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """Start a worker and wait until it is ready: on a loop without blocking matching; on
        a stepped node at once, and then every deployment handles what the start caused (as a
        step does). `permissions`: the caller's key's (None: the engine's own caller)."""
        self._check_request(account, strategy_id, exchange, symbol, params)
        # The first call probes: off the loop.
        await asyncio.to_thread(self.uploads.confinement_problem)
        warning = self._unconfined_warning(strategy_id, permissions)
        deployment = self._new(strategy_id, account)
        if self.loop is None:
            return self._deploy_stepped(deployment, params, exchange, symbol, warning)
        deployment.ready = self.loop.create_future()
        self._spawn(deployment, params or {}, exchange, symbol)  # type: ignore[arg-type]  # checked by _check_request
        self.supervision.watch(deployment)
        starting = self._all.setdefault(deployment.deployment_id, deployment)
        try:
            await deployment.ready
        finally:
            if deployment.phase == "starting":
                self._all.pop(starting.deployment_id, None)
        launched = self._launch(deployment, exchange, symbol)  # type: ignore[arg-type]  # checked by _check_request
        return self._warn(deployment, warning) if warning else launched

    def _deploy_stepped(
        self,
        deployment: Deployment,
        params: object,
        exchange: object,
        symbol: object,
        warning: str | None,
    ) -> dict[str, Any]:
        """A stepped node: the same, waiting for the worker synchronously."""
        self._spawn(deployment, params or {}, exchange, symbol)  # type: ignore[arg-type]  # checked by _check_request
        self.supervision.wait_sync(
            deployment, lambda: deployment.validated is not None or deployment.worker is None
        )
        if deployment.start_error is None and deployment.validated is None:
            deployment.start_error = error_body(InternalError("the strategy did not start"))
        self._launch(deployment, exchange, symbol)  # type: ignore[arg-type]  # checked by _check_request
        self.supervision.settle()
        if warning:
            return self._warn(deployment, warning)
        return self.get(deployment.deployment_id)

    def _unconfined_warning(
        self, strategy_id: str, permissions: Collection[str] | None
    ) -> str | None:
        if self.registry.is_builtin(strategy_id):
            return None  # code shipped with vmx
        return self.uploads.admit_user_code(permissions)

    def _warn(self, deployment: Deployment, warning: str) -> dict[str, Any]:
        """Every deploy of unconfined user code says so: in its log and in the answer."""
        deployment.add_log_text(warning, "warning")
        status = deployment.status()
        status["warnings"] = [warning]
        return status

    # -- views and control ---------------------------------------------------------------
    def _find(self, deployment_id: str, account: str | None) -> Deployment:
        deployment = self._all.get(deployment_id)
        if (
            deployment is None
            or deployment.phase == "starting"
            or (account is not None and deployment.account != account)
        ):
            raise NotFound(
                f"Unknown deployment {deployment_id!r}; list them with "
                "GET /v1/strategies/deployments",
                {"deployment_id": deployment_id},
            )
        return deployment

    def get(self, deployment_id: str, account: str | None = None) -> dict[str, Any]:
        return self._find(deployment_id, account).status()

    def list(self, account: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        found = []
        for deployment in self._all.values():
            if deployment.phase == "starting":
                continue
            if account is not None and deployment.account != account:
                continue
            status = deployment.status()
            if state is not None and status["state"] != state:
                continue
            found.append(status)
        return found

    def logs(
        self, deployment_id: str, account: str | None = None, since: int = 0, limit: int = 1000
    ) -> dict[str, Any]:
        deployment = self._find(deployment_id, account)
        lines = [line for line in deployment.logs if line["sequence"] > since][:limit]
        last = lines[-1]["sequence"] if lines else max(since, 0)
        return {
            "deployment_id": deployment_id,
            "state": deployment.status()["state"],
            "logs": lines,
            "next_since": last,
        }

    def request_stop(self, deployment_id: str, account: str | None = None) -> Deployment:
        deployment = self._find(deployment_id, account)
        if deployment.phase == "running":
            loop = self.loop
            if loop is not None and deployment.finished is None:
                deployment.finished = loop.create_future()
            deployment.begin_stop(STOPPED, "stopped by user")
        return deployment

    async def stop(self, deployment_id: str, account: str | None = None) -> dict[str, Any]:
        deployment = self.request_stop(deployment_id, account)
        if self.loop is None:  # stepped: on_stop runs now
            self.supervision.wait_sync(deployment, lambda: deployment.phase == "finished")
        elif deployment.finished is not None and not deployment.finished.done():
            # on_stop's budget, then the watchdog kills the worker: this always ends.
            await asyncio.wait_for(
                asyncio.shield(deployment.finished), self.limits.callback_seconds + 5
            )
        return deployment.status()

    # -- user strategies -----------------------------------------------------------------
    def add_strategy(
        self, source: str, described: dict[str, Any], replace: bool, *, account: str
    ) -> dict[str, Any]:
        """Keep `account`'s checked user strategy (see StrategyRegistry.add)."""
        strategy_id = described.get("strategy_id")
        running = self.running_of(strategy_id, account) if isinstance(strategy_id, str) else []
        if replace and running:
            raise InvalidParameter(
                "strategy_id", strategy_id,
                f"{strategy_id!r} has running deployments ({', '.join(running)}); stop them first",
            )  # fmt: skip
        return self.registry.add(account, source, described, replace=replace)

    def remove_strategy(self, strategy_id: str, *, account: str) -> dict[str, Any]:
        running = self.running_of(strategy_id, account)
        if running and not self.registry.is_builtin(strategy_id):
            raise InvalidParameter(
                "strategy_id", strategy_id,
                f"{strategy_id!r} has running deployments ({', '.join(running)}); stop them first",
            )  # fmt: skip
        return self.registry.remove(account, strategy_id)

    def running_of(self, strategy_id: str, account: str) -> builtins.list[str]:
        """`account`'s deployments of its strategy `strategy_id` that have not ended."""
        return [
            d.deployment_id
            for d in self._all.values()
            if d.strategy_id == strategy_id
            and d.account == account
            and d.phase in ("starting", "running", "stopping")
        ]


def _error_from(body: dict[str, Any]) -> ApiError:
    from velocimex_cli.wire.errors import error_from_body

    return error_from_body(body)
