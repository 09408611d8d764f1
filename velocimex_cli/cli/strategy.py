"""`vmx strategy ...`: list, show, add, remove and deploy strategies; watch and stop deployments.

vmx strategy list | show ID | add FILE [--replace] | remove ID
vmx strategy deploy ID --exchange E --symbol S --param k=v
vmx strategy status [DEPLOYMENT_ID] | stop DEPLOYMENT_ID | logs DEPLOYMENT_ID [-f]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli import completers
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, output_format, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

app = sub_app("Strategies: list, add and deploy them; watch and stop deployments.")

STRATEGY_COLUMNS = ("strategy_id", "name", "kind", "description")
PARAM_COLUMNS = ("name", "type", "required", "default", "min", "max", "choices", "description")
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
class ListOptions:
    output: str | None


@dataclass
class ShowOptions:
    strategy_id: str
    output: str | None = None


@dataclass
class AddOptions:
    path: str
    replace: bool = False
    output: str | None = None


@dataclass
class RemoveOptions:
    strategy_id: str
    output: str | None = None


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


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; JSON values (numbers, true, lists) are parsed, others kept as text."""
    from velocimex_cli.wire import jsonfmt
    from velocimex_cli.wire.errors import InvalidParameter

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter("param", pair, f"--param must look like key=value, not {pair!r}")
        try:
            params[key.strip()] = jsonfmt.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


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


def run_list(factory: Factory, opts: ListOptions) -> None:
    from velocimex_cli.output.formats import emit

    def table(payload: Any) -> Any:
        from velocimex_cli.render.tables import STRATEGY_FIT, table_for

        # The table names each strategy's parameters; their types, defaults and bounds (a
        # JSON document thousands of characters wide) are what `vmx strategy show ID` is for.
        rows = [
            {**row, "params": _param_names(row.get("params"))} if isinstance(row, dict) else row
            for row in (payload or {}).get("strategies") or []
        ]
        return table_for("strategies", STRATEGY_COLUMNS, STRATEGY_FIT)(
            {**payload, "strategies": rows}
        )

    emit(factory.io, factory.client().strategies(), factory.output_format(opts.output), table)
    if factory.output_format(opts.output) == "table":
        factory.io.status("Parameters in full: `vmx strategy show STRATEGY_ID`.")


def _param_names(params: Any) -> str:
    if not isinstance(params, list):
        return "-" if params is None else str(params)
    names = [str(p.get("name")) for p in params if isinstance(p, dict)]
    return ", ".join(names) or "-"


def run_show(factory: Factory, opts: ShowOptions) -> None:
    from velocimex_cli.output.formats import emit

    data = factory.client().strategy(opts.strategy_id)

    def table(payload: Any) -> Any:
        from rich.console import Group
        from rich.text import Text

        from velocimex_cli.render.tables import detail_table, records_table

        head = {k: v for k, v in payload.items() if k != "params"}
        params = payload.get("params") or []
        if not params:
            return Group(detail_table(head), Text("\nno parameters"))
        return Group(
            detail_table(head), Text(""), records_table(params, PARAM_COLUMNS, "parameters")
        )

    emit(factory.io, data, factory.output_format(opts.output), table)


def run_add(factory: Factory, opts: AddOptions) -> None:
    from velocimex_cli.wire.errors import InvalidParameter

    path = Path(opts.path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidParameter("file", opts.path, f"No such file: {opts.path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameter("file", opts.path, f"Cannot read {opts.path}: {exc}") from None
    data = factory.client().add_strategy(source, path.name, opts.replace)
    factory.io.status(f"Added strategy {data.get('strategy_id')} from {path.name}")
    run_show_payload(factory, data, opts.output)


def run_show_payload(factory: Factory, data: Any, output: str | None) -> None:
    from velocimex_cli.output.formats import emit
    from velocimex_cli.render.tables import detail_table

    emit(
        factory.io,
        data,
        factory.output_format(output),
        lambda payload: detail_table({k: v for k, v in payload.items() if k != "params"}),
    )


def run_remove(factory: Factory, opts: RemoveOptions) -> None:
    data = factory.client().remove_strategy(opts.strategy_id)
    factory.io.status(f"Removed strategy {opts.strategy_id}")
    run_show_payload(factory, data, opts.output)


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


@app.command("list")
def list_command(ctx: typer.Context, json: JsonFlag = False, output: OutputOption = None) -> None:
    """The strategies available to deploy (built-in and added)."""
    fmt = output_format(json, output)
    execute(ctx, run_list, ListOptions(output=fmt), output=fmt)


@app.command("show")
def show_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(
            help="The strategy's id (see `vmx strategy list`).",
            autocompletion=completers.strategy_ids,
        ),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """One strategy and its parameters: types, defaults and bounds."""
    fmt = output_format(json, output)
    execute(ctx, run_show, ShowOptions(strategy_id=strategy_id, output=fmt), output=fmt)


@app.command("add")
def add_command(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(metavar="FILE", help="A Python file with one Strategy class.")
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace your account's user strategy of that id (it must exist)."
        ),
    ] = False,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Register a user strategy file with the engine (checked first: syntax, class, params).

    It belongs to your key's account: no other account sees, deploys or replaces it. Needs a
    key with the `strategies` permission (`vmx engine keys create --permissions
    read,trade,strategies`; the local profile's key has it).
    """
    fmt = output_format(json, output)
    execute(ctx, run_add, AddOptions(path=path, replace=replace, output=fmt), output=fmt)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(help="A user strategy's id.", autocompletion=completers.user_strategy_ids),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Remove one of your account's user strategies (stop its deployments first; needs the
    `strategies` permission)."""
    fmt = output_format(json, output)
    execute(ctx, run_remove, RemoveOptions(strategy_id=strategy_id, output=fmt), output=fmt)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    strategy_id: Annotated[
        str,
        typer.Argument(
            help="The strategy's id (see `vmx strategy list`).",
            autocompletion=completers.strategy_ids,
        ),
    ],
    exchange: Annotated[str, typer.Option("--exchange", "-e", autocompletion=completers.exchanges)],
    symbol: Annotated[str, typer.Option("--symbol", "-s", autocompletion=completers.symbols)],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable.")
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Deploy a strategy on an instrument; prints the deployment."""
    fmt = output_format(json, output)
    opts = DeployOptions(
        strategy_id=strategy_id,
        exchange=exchange,
        symbol=symbol,
        params=list(param or []),
        output=fmt,
    )
    execute(ctx, run_deploy, opts, output=fmt)


@app.command("status")
def status_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str | None,
        typer.Argument(
            help="One deployment (default: all).", autocompletion=completers.deployment_ids
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only deployments in this state (running, stopped, failed, ...)."
        ),
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Deployments: state, orders, fills, position, PnL, fees and the last error."""
    fmt = output_format(json, output)
    execute(
        ctx,
        run_status,
        StatusOptions(deployment_id=deployment_id, state=state, output=fmt),
        output=fmt,
    )


@app.command("stop")
def stop_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str,
        typer.Argument(
            help="The deployment to stop.", autocompletion=completers.live_deployment_ids
        ),
    ],
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Stop a deployment: its on_stop runs, then its open orders are canceled."""
    fmt = output_format(json, output)
    execute(ctx, run_stop, StopOptions(deployment_id=deployment_id, output=fmt), output=fmt)


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    deployment_id: Annotated[
        str, typer.Argument(help="The deployment.", autocompletion=completers.deployment_ids)
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    since: Annotated[
        int, typer.Option("--since", help="Only lines after this sequence number.")
    ] = 0,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """What a deployment logged (its own lines, its errors, starts and stops)."""
    fmt = output_format(json, output)
    execute(
        ctx,
        run_logs,
        LogsOptions(deployment_id=deployment_id, follow=follow, since=since, output=fmt),
        output=fmt,
    )
