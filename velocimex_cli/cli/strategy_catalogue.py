"""`vmx strategy list|show|add|remove`: the strategies the engine offers (built-in and your
account's own), one with its parameters, and your own added or removed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

STRATEGY_COLUMNS = ("strategy_id", "name", "kind", "description")
PARAM_COLUMNS = ("name", "type", "required", "default", "min", "max", "choices", "description")


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

        from velocimex_cli.render.tables import PARAM_FIT, detail_table, records_table

        head = {k: v for k, v in payload.items() if k != "params"}
        params = payload.get("params") or []
        if not params:
            return Group(detail_table(head), Text("\nno parameters"))
        return Group(
            detail_table(head),
            Text(""),
            records_table(params, PARAM_COLUMNS, "parameters", PARAM_FIT),
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
