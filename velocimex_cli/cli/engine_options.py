"""Options the `vmx engine` commands share: the data directory and what to do with one that
lost commits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Engine data directory (holds engine.db). Default: the vmx data directory.",
        show_default=False,
    ),
]
AcceptDataLossOption = Annotated[
    bool,
    typer.Option(
        "--accept-data-loss",
        help="Start even though engine.db lacks commits this data directory had stored (its "
        "write-ahead log or the file itself was lost, truncated or replaced): trade on from what "
        "is there. Without it such an engine refuses to start.",
    ),
]


def resolved_data_dir(data_dir: Path | None) -> Path:
    """`data_dir`, or the default engine data directory, as an absolute path."""
    from velocimex_cli import paths

    return (data_dir or paths.engine_data_dir()).expanduser().resolve()
