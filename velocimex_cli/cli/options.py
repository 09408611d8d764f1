"""Options shared by many commands (output format) and how they resolve against settings."""

from __future__ import annotations

from typing import Annotated

import typer

from velocimex_cli.cli import completers

FORMATS = ("table", "json", "ndjson", "csv")

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the API's data payload as one JSON document.")
]
OutputOption = Annotated[
    str | None,
    typer.Option(
        "--output", "-o", help="Output format: table, json, ndjson or csv.", metavar="FORMAT"
    ),
]

# One instrument, as the commands about one take it (book, watch, candles, buy, sell).
ExchangeArgument = Annotated[
    str, typer.Argument(help="Exchange, e.g. BINANCE.", autocompletion=completers.exchanges)
]
SymbolArgument = Annotated[
    str, typer.Argument(help="Symbol, e.g. BTC/USDT.", autocompletion=completers.symbols)
]
# Only this exchange or instrument (the order lists, cancel --all, a backtest's instrument).
ExchangeFilter = Annotated[
    str | None,
    typer.Option(
        "--exchange", "-e", help="Only this exchange, e.g. BINANCE.",
        autocompletion=completers.exchanges,
    ),
]  # fmt: skip
SymbolFilter = Annotated[
    str | None,
    typer.Option(
        "--symbol", "-s", help="Only this symbol, e.g. BTC/USDT.",
        autocompletion=completers.symbols,
    ),
]  # fmt: skip

# The live boards' options (`vmx book|ticker|candles --watch`).
WatchFpsOption = Annotated[
    float, typer.Option("--fps", help="With --watch: frames per second at most.")
]
WatchDurationOption = Annotated[
    float | None,
    typer.Option("--duration", help="With --watch: stop after this many seconds."),
]
# A strategy's parameters (`vmx strategy deploy`, `vmx backtest`).
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable.")
]
# Logs that go on (`vmx engine logs`, `vmx strategy logs`).
FollowFlag = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")]

# The options of the commands that stream (vmx stream, vmx order watch).
CountOption = Annotated[
    int | None, typer.Option("--count", "-n", help="Stop after N data messages.")
]
DurationOption = Annotated[float | None, typer.Option("--duration", help="Stop after S seconds.")]
RecordOption = Annotated[
    str | None,
    typer.Option(
        "--record", help="Also record every message received to FILE (NDJSON, versioned)."
    ),
]


def output_format(json_flag: bool, output: str | None) -> str | None:
    """The format asked for on the command line (None: use the configured default)."""
    if output is not None:
        value = output.strip().lower()
        if value not in FORMATS:
            raise typer.BadParameter(
                f"{output!r} is not one of {', '.join(FORMATS)}", param_hint="'--output'"
            )
        return value
    return "json" if json_flag else None


def sub_app(
    help: str, *, no_args_is_help: bool = True, invoke_without_command: bool = False
) -> typer.Typer:
    """A Typer app for one noun, with plain (Rich-free, fast) help like the root's
    (`invoke_without_command`: its callback is a command of its own too)."""
    return typer.Typer(
        help=help,
        invoke_without_command=invoke_without_command,
        no_args_is_help=no_args_is_help,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
