"""Options shared by many commands (output format) and how they resolve against settings."""

from __future__ import annotations

from typing import Annotated

import typer

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
