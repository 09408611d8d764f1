"""`vmx strategy deploy|status|stop|logs`: a strategy deployed on an instrument, and its
deployments watched (state, orders, fills, positions, PnL), stopped and their logs followed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.strategy_params import parse_params

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

DEPLOYMENT_COLUMNS = (
    "deployment_id",
    "strategy_id",
    "exchange",
    "symbol",
    "state",
    "orders",
    "fills",
    "open_orders",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "last_error",
)
DEPLOYMENT_FIELDS = (
    "deployment_id",
    "strategy_id",
    "exchange",
    "symbol",
    "account",
    "state",
    "params",
    "started_at",
    "stopped_at",
    "stop_reason",
    "last_error",
    "orders",
    "rejected_orders",
    "open_orders",
    "fills",
    "volume",
    "fees",
    "realized_pnl",
    "unrealized_pnl",
)
POSITION_COLUMNS = (
    "exchange",
    "symbol",
    "quantity",
    "average_price",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "pnl_asset",
)
FINISHED_STATES = ("completed", "stopped", "failed")
FOLLOW_SECONDS = 0.5


@dataclass
class DeployOptions:
    strategy_id: str
    exchange: str
    symbol: str
    params: list[str] = field(default_factory=list)
    output: str | None = None


@dataclass
class StatusOptions:
    deployment_id: str | None = None
    state: str | None = None
    output: str | None = None


@dataclass
class StopOptions:
    deployment_id: str
    output: str | None = None


@dataclass
class LogsOptions:
    deployment_id: str
    follow: bool = False
    since: int = 0
    output: str | None = None


def _flat(value: Any) -> Any:
    """{asset: amount} maps as "1.5 USDT" text for a table cell."""
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        return ", ".join(f"{amount} {asset}" for asset, amount in value.items())
    if isinstance(value, dict) and not value:
        return ""
    return value


def deployment_view(record: dict[str, Any]) -> Any:
    """A deployment's fields, then its positions (tables for people)."""
    from rich.console import Group
    from rich.text import Text

    from velocimex_cli.render.tables import POSITION_FIT, detail_table, records_table

    shown = {k: _flat(record.get(k)) for k in DEPLOYMENT_FIELDS if k in record}
    if isinstance(record.get("params"), dict):  # name=value, not the "amount asset" of money
        shown["params"] = ", ".join(f"{k}={v}" for k, v in record["params"].items()) or "-"
    parts: list[Any] = [detail_table(shown)]
    positions = record.get("positions") or []
    if positions:
        parts += [
            Text(""),
            records_table(positions, POSITION_COLUMNS, title="positions", fit=POSITION_FIT),
        ]
    return Group(*parts)


def run_deploy(factory: Factory, opts: DeployOptions) -> None:
    from velocimex_cli.output.formats import emit

    params = parse_params(opts.params)
    data = factory.client().deploy_strategy(opts.strategy_id, opts.exchange, opts.symbol, params)
    if isinstance(data, dict):
        for warning in data.get("warnings") or ():  # e.g. the engine cannot confine the code
            factory.io.status(f"Warning: {warning}")
    if isinstance(data, dict) and data.get("deployment_id"):
        factory.io.status(
            f"Deployed {opts.strategy_id} as {data['deployment_id']}; watch it with "
            f"`vmx strategy status {data['deployment_id']}`"
        )
    emit(factory.io, data, factory.output_format(opts.output), deployment_view)


def run_status(factory: Factory, opts: StatusOptions) -> None:
    from velocimex_cli.output.formats import emit

    client = factory.client()
    fmt = factory.output_format(opts.output)
    if opts.deployment_id:
        emit(factory.io, client.deployment(opts.deployment_id), fmt, deployment_view)
        return

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import DEPLOYMENT_FIT, records_table

        rows = [{k: _flat(v) for k, v in row.items()} for row in payload.get("deployments", [])]
        return records_table(rows, DEPLOYMENT_COLUMNS, fit=DEPLOYMENT_FIT)

    emit(factory.io, client.deployments(opts.state), fmt, table)


def run_stop(factory: Factory, opts: StopOptions) -> None:
    from velocimex_cli.output.formats import emit

    data = factory.client().stop_deployment(opts.deployment_id)
    factory.io.status(f"Deployment {opts.deployment_id} is {data.get('state')}")
    emit(factory.io, data, factory.output_format(opts.output), deployment_view)


def _log_line(line: dict[str, Any]) -> str:
    level = str(line.get("level", "")).upper()
    return f"{line.get('timestamp', '')} {level:<7} {line.get('message', '')}"


def run_logs(factory: Factory, opts: LogsOptions) -> None:
    import time

    from velocimex_cli.output.columns import LOG_FIELDS
    from velocimex_cli.output.formats import to_csv
    from velocimex_cli.wire import jsonfmt

    client = factory.client()
    fmt = factory.output_format(opts.output)
    since = opts.since
    first = True
    try:
        while True:
            page = client.deployment_logs(opts.deployment_id, since=since)
            lines = page.get("logs", [])
            if fmt == "csv":
                text = to_csv(lines, LOG_FIELDS)
                factory.io.write(text if first else text.partition("\n")[2])
                first = False
            for line in lines if fmt != "csv" else ():
                if fmt in ("json", "ndjson"):
                    factory.io.write(jsonfmt.dumps(line) + "\n")
                else:
                    factory.io.write(_log_line(line) + "\n")
            since = int(page.get("next_since", since))
            if not opts.follow:
                return
            if page.get("state") in FINISHED_STATES and not page.get("logs"):
                factory.io.status(f"Deployment {opts.deployment_id} is {page.get('state')}")
                return
            time.sleep(FOLLOW_SECONDS)
    except KeyboardInterrupt:
        return
