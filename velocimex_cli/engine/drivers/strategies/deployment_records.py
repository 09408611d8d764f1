"""The deployments' records, kept in the engine's store (its meta table), and what an engine
restart makes of them.

On an engine restart, deployments come back stopped (reason: the restart) with their open
orders canceled; nothing trades again until deployed again. Their records, logs and accounting
(rebuilt from the account's fills) stay visible.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from velocimex_cli.engine.drivers.strategies.deployment import STOPPING, Deployment, _wire
from velocimex_cli.engine.drivers.strategies.host import CREATED, RUNNING, STOPPED
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.timefmt import iso

if TYPE_CHECKING:
    from velocimex_cli.engine.core.exchange import Exchange
    from velocimex_cli.engine.drivers.strategies.limits import StrategyLimits
    from velocimex_cli.engine.drivers.strategies.worker_session import Manager

log = logging.getLogger("vmx.engine.strategies")

META_KEY = "deployments"
SAVED_LOG_LINES = 200
KEPT_FINISHED = 200  # ended deployments kept (records, logs); older ones are forgotten
RESTARTED = "the engine restarted while it ran; its open orders were canceled (deploy it again)"


class DeploymentRecords:
    """Saves every deployment of `_all` (shared with their `Deployments`) and the next id's
    number in the exchange's meta; `restore` brings them back as an engine starts."""

    def __init__(
        self,
        exchange: Exchange,
        limits: StrategyLimits,
        deployments: dict[str, Deployment],
        manager: Manager,
    ) -> None:
        self.exchange = exchange
        self.limits = limits
        self._all = deployments
        self.manager = manager
        self._next_number = 1

    def take_number(self) -> int:
        """The number of the next deployment's id (`dep-<n>`; never reused)."""
        number, self._next_number = self._next_number, self._next_number + 1
        return number

    def save(self) -> None:
        finished = [key for key, d in self._all.items() if d.phase == "finished"]
        for key in finished[: max(0, len(finished) - KEPT_FINISHED)]:
            del self._all[key]  # the oldest ended deployments beyond the kept number
        records = []
        for deployment in self._all.values():
            if deployment.phase == "starting":
                continue
            status = deployment.status()
            for key in ("positions", "volume", "fees", "realized_pnl", "unrealized_pnl"):
                status.pop(key, None)
            status["log"] = list(deployment.logs)[-SAVED_LOG_LINES:]
            records.append(status)
        state = {"next": self._next_number, "deployments": records}
        try:
            self.exchange.save_meta(META_KEY, jsonfmt.dumps(state))
        except Exception:
            log.exception("could not save the strategy deployments")

    def restore(self) -> None:
        """Bring back the saved deployments, stopped (see the module's docstring)."""
        exchange = self.exchange
        saved = exchange.load_meta(META_KEY)
        if not saved:
            return
        state = jsonfmt.loads(saved)
        self._next_number = int(state.get("next", 1))
        canceled_any = False
        for record in state.get("deployments", []):
            deployment = Deployment(
                self.manager, record["deployment_id"], record["strategy_id"], record["account"],
                self.limits,
            )  # fmt: skip
            deployment.phase = "finished"
            for line in record.get("log", []):
                deployment.logs.append(line)
                deployment.log_sequence = max(deployment.log_sequence, line.get("sequence", 0))
            record = {k: v for k, v in record.items() if k != "log"}
            if record.get("state") in (RUNNING, CREATED, STOPPING):
                record["state"] = STOPPED
                record["stop_reason"] = RESTARTED
                record["stopped_at"] = iso(exchange.clock())
                canceled_any |= self._cancel_orders_of(deployment) > 0
                deployment.logs.append(
                    {
                        "sequence": deployment.log_sequence + 1,
                        "timestamp": iso(exchange.clock()),
                        "level": "warning",
                        "message": f"stopped: {RESTARTED}",
                    }
                )
                deployment.log_sequence += 1
            record.update(self._accounting_from_fills(deployment))
            record["open_orders"] = 0
            record["logs"] = deployment.log_sequence
            deployment.record = record
            self._all[deployment.deployment_id] = deployment
        self.save()
        if canceled_any:
            log.warning("strategy deployments were stopped by the restart; open orders canceled")

    def _cancel_orders_of(self, deployment: Deployment) -> int:
        exchange = self.exchange
        account = exchange.ledger.accounts.get(deployment.account)
        if account is None:
            return 0
        prefix = deployment.deployment_id + ":"
        count = 0
        for order in list(account.orders.values()):
            if order.is_live and (order.client_id or "").startswith(prefix):
                exchange.cancel_order(deployment.account, str(order.id))
                count += 1
        return count

    def _accounting_from_fills(self, deployment: Deployment) -> dict[str, Any]:
        from velocimex_cli.engine.core.exchange import fill_wire
        from velocimex_cli.engine.drivers.strategies.tally import Tally

        exchange = self.exchange
        tally = Tally()
        account = exchange.ledger.accounts.get(deployment.account)
        prefix = deployment.deployment_id + ":"
        if account is not None:
            tally.orders = sum(
                1 for o in account.orders.values() if (o.client_id or "").startswith(prefix)
            )
            for record in account.fills:
                if (record.order.client_id or "").startswith(prefix):
                    tally.add_fill(record.order.instrument, fill_wire(record))
        return _wire(tally.summary(exchange))
