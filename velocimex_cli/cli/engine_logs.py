"""`vmx engine logs|audit`: what the engine wrote down, its log (followed with -f) and the data
directory's audit log of key, strategy and limit changes (damaged lines shown as such)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.engine_options import resolved_data_dir
from velocimex_cli.wire.errors import ExitCode

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

AUDIT_COLUMNS = ("time", "who", "account", "address", "action", "target", "details")


@dataclass
class LogsOptions:
    follow: bool
    lines: int


def run_logs(factory: Factory, opts: LogsOptions) -> int | None:
    from velocimex_cli import engine_record

    if opts.lines < 0:
        raise CommandError(f"--lines must be 0 or more, not {opts.lines}")
    path = engine_record.log_file()
    if not path.exists():
        raise CommandError(
            f"no engine log yet ({path}); start the engine with `vmx engine start`",
            exit_code=ExitCode.UNEXPECTED,
            code="NO_LOG",
        )
    io = factory.io
    with open(path, encoding="utf-8", errors="replace") as handle:
        tail = handle.readlines()[-opts.lines :] if opts.lines > 0 else []
        io.write("".join(tail))
        if not opts.follow:
            return None
        try:
            while True:
                line = handle.readline()
                if line:
                    io.write(line)
                else:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            return None


@dataclass
class AuditOptions:
    data_dir: Path | None
    limit: int
    output: str | None


def run_audit(factory: Factory, opts: AuditOptions) -> int | None:
    from velocimex_cli.engine import audit
    from velocimex_cli.output.formats import emit

    if opts.limit < 1:
        raise CommandError(f"--limit must be 1 or more, not {opts.limit}")
    data_dir = resolved_data_dir(opts.data_dir)
    try:
        found = audit.read(data_dir, opts.limit)
    except OSError as exc:
        raise CommandError(
            f"cannot read {audit.audit_file(data_dir)}: {exc.strerror or exc}",
            exit_code=ExitCode.UNEXPECTED,
            code="AUDIT_UNREADABLE",
        ) from None
    entries: list[dict[str, Any]] = []
    damaged = 0
    for number, entry in found:
        if isinstance(entry, audit.Damaged):
            damaged += 1
            entries.append({"line": number, "damaged": entry.problem})
        else:
            entries.append({"line": number, **entry})
    fmt = factory.output_format(opts.output)
    if not entries and fmt == "table":
        factory.io.status(f"No audit records in {audit.audit_file(data_dir)}.")

    def table(payload: dict[str, Any]) -> Any:
        from velocimex_cli.render.tables import records_table
        from velocimex_cli.wire import jsonfmt

        rows = []
        for entry in payload["entries"]:
            if "damaged" in entry:
                rows.append({"time": f"line {entry['line']}", "action": "(damaged line)",
                             "details": entry["damaged"]})  # fmt: skip
            else:
                rows.append({**entry, "details": jsonfmt.dumps(entry.get("details") or {})})
        return records_table(rows, AUDIT_COLUMNS)

    emit(factory.io, {"entries": entries}, fmt, table)
    if damaged:
        factory.io.status(
            f"{damaged} damaged line(s) in {audit.audit_file(data_dir)} (shown as such); the"
            " other records are intact."
        )
    return None
