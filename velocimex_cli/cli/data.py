"""`vmx data import --format FORMAT FILE... [-e EXCHANGE -s SYMBOL] -o RECORDING`: public
market-data files (Binance's, Tardis.dev's) converted into a recording that `vmx backtest
--data` and `vmx replay` read (docs/backtests.md, "Importing public data").

Streaming: the files are read in chunks and merged row by row, in constant memory. On a
terminal stderr shows a bar (bytes read, rows, rate, time left); off one, only the summary
line. Nothing goes to stdout but the summary as JSON with --json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.engine.backtest.imports.writer import Reader

FORMATS = ("binance-trades", "binance-aggtrades", "tardis-trades", "tardis-book")

app = sub_app("Import public market data into recordings for backtests.")


@app.callback()
def data() -> None:
    """Public market data for backtests: `vmx data import`."""


@dataclass
class ImportCommand:
    formats: list[str]  # one for every file, or one per file in order
    files: list[str]
    output: str
    exchange: str | None = None
    symbol: str | None = None
    force: bool = False
    json: bool = False
    tick_size: str | None = None  # the instrument's terms, written into the header
    lot_size: str | None = None
    min_notional: str | None = None  # the venue's minimum price x quantity (with the two above)


def _readers(opts: ImportCommand) -> list[Reader]:
    from velocimex_cli.engine.backtest.imports.binance import BinanceTrades
    from velocimex_cli.engine.backtest.imports.tardis import TardisBook, TardisTrades

    readers: list[Reader] = []
    formats = opts.formats * len(opts.files) if len(opts.formats) == 1 else opts.formats
    try:
        for name, kind in zip(opts.files, formats, strict=True):
            path = Path(name)
            if not path.is_file():
                what = "does not exist" if not path.exists() else "is not a regular file"
                raise CommandError(f"{name} {what}: give the data files to import")
            if kind == "binance-trades":
                readers.append(BinanceTrades(path, "trades", opts.exchange, opts.symbol))
            elif kind == "binance-aggtrades":
                readers.append(BinanceTrades(path, "aggTrades", opts.exchange, opts.symbol))
            elif kind == "tardis-trades":
                readers.append(TardisTrades(path, opts.exchange, opts.symbol))
            else:
                readers.append(TardisBook(path, opts.exchange, opts.symbol))
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    return readers


def _progress(factory: Factory) -> Any:
    """A bar of bytes read on stderr when it is a terminal (None otherwise)."""
    if not factory.io.is_stderr_tty:
        return None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from velocimex_cli.cli.progress_bar import stderr_progress

    return stderr_progress(
        factory,
        TextColumn("import"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} messages"),
        TransferSpeedColumn(),  # the bar counts bytes read: its rate is bytes/s, said so
        TimeRemainingColumn(),
    )


def run_import(factory: Factory, opts: ImportCommand) -> int | None:
    from velocimex_cli.engine.backtest.imports.terms import given_terms
    from velocimex_cli.engine.backtest.imports.writer import write_recording

    for kind in opts.formats:
        if kind not in FORMATS:
            raise CommandError(f"--format is one of {', '.join(FORMATS)}, not {kind!r}")
    if not opts.files:
        raise CommandError("give at least one data file to import")
    if len(opts.formats) not in (1, len(opts.files)):
        raise CommandError(
            f"{len(opts.formats)} --format for {len(opts.files)} files: give one --format for "
            "all the files, or one per file in the order of the files"
        )
    output = Path(opts.output)
    if output.exists() and not opts.force:
        raise CommandError(f"{output} exists: give --force to replace it, or another -o")
    if output.exists() and not output.is_file():
        raise CommandError(f"{output} is not a regular file: give -o a file name")
    terms = given_terms(opts.tick_size, opts.lot_size, opts.min_notional)
    readers = _readers(opts)
    source = ",".join(dict.fromkeys(opts.formats))
    total = sum(Path(name).stat().st_size for name in opts.files)
    bar = _progress(factory)
    if bar is None:
        summary = write_recording(readers, output, replace=opts.force, source=source, terms=terms)
    else:
        with bar:
            task = bar.add_task("import", total=total, rows=0)

            def progress(rows: int, done: int) -> None:
                bar.update(task, completed=done, rows=rows)

            summary = write_recording(
                readers, output, replace=opts.force, source=source, progress=progress, terms=terms
            )
    skipped = f"; {summary.skipped:,} trades of unknown side skipped" if summary.skipped else ""
    factory.io.status(
        f"imported {summary.rows:,} rows from {summary.files} "
        f"file{'s' if summary.files != 1 else ''} as {summary.messages:,} messages "
        f"({', '.join(summary.instruments)}; {summary.first} -> {summary.last}) into "
        f"{summary.output}{skipped}"
    )
    if opts.json:
        from velocimex_cli.wire import jsonfmt

        factory.io.write(jsonfmt.canonical(asdict(summary)) + "\n")
    return None


@app.command("import")
def import_command(
    ctx: typer.Context,
    files: Annotated[
        list[str], typer.Argument(help="The data files, zipped or gzipped as published.")
    ],
    data_format: Annotated[
        list[str],
        typer.Option(
            "--format",
            "-f",
            help="binance-trades, binance-aggtrades, tardis-trades or tardis-book: once for "
            "all FILEs, or once per FILE in order (a book and its trades, merged).",
        ),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="The recording to write.", metavar="RECORDING")
    ],
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", "-e", help="The exchange (default: from the files)."),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", "-s", help="The symbol, BASE/QUOTE (default: from the files)."),
    ] = None,
    tick_size: Annotated[
        str | None,
        typer.Option(
            "--tick-size",
            help="The market's price increment as the exchange states it, with --lot-size: "
            "needed for an instrument vmx does not list, written into the recording.",
            metavar="PRICE",
        ),
    ] = None,
    lot_size: Annotated[
        str | None,
        typer.Option(
            "--lot-size",
            help="The market's quantity increment as the exchange states it (with --tick-size).",
            metavar="QUANTITY",
        ),
    ] = None,
    min_notional: Annotated[
        str | None,
        typer.Option(
            "--min-notional",
            help="The market's least price x quantity an order may have, in the quote asset, "
            "as the exchange states it (with --tick-size and --lot-size): a backtest refuses "
            "an order under it as the live engine does.",
            metavar="AMOUNT",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace RECORDING if it exists.")] = False,
    json: JsonFlag = False,
) -> None:
    """Convert public market-data files into a recording for `vmx backtest --data`."""
    formats = [kind.strip().lower() for kind in data_format]
    opts = ImportCommand(
        formats=formats,
        files=list(files),
        output=output,
        exchange=exchange,
        symbol=symbol,
        force=force,
        json=json,
        tick_size=tick_size,
        lot_size=lot_size,
        min_notional=min_notional,
    )
    execute(ctx, run_import, opts, output="json" if json else None)
