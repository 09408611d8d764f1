"""Options the `vmx engine` commands share: the data directory and what to do with one that
lost commits, the simulated market's, the mirrors'."""

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

# The simulated market's options of `vmx engine serve` and `vmx engine start`.
SeedOption = Annotated[int, typer.Option(help="Seed of the market simulator.")]
AlwaysOpenOption = Annotated[
    bool, typer.Option("--always-open", help="Treat every venue as open (ignore hours).")
]
NoRateLimitOption = Annotated[
    bool, typer.Option("--no-rate-limit", help="Turn REST rate limiting off.")
]


def resolved_data_dir(data_dir: Path | None) -> Path:
    """`data_dir`, or the default engine data directory, as an absolute path."""
    from velocimex_cli import paths

    return (data_dir or paths.engine_data_dir()).expanduser().resolve()


MirrorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--mirror",
        metavar="VENUE:SYMBOL[,SYMBOL...]",
        help="Mirror a real exchange's public books and trades (needs the live extra), e.g. "
        "binance:BTC/USDT,ETH/USDT; repeat for more venues. Its exchange (BINANCE) replaces the "
        "simulated one; orders on it are paper.",
        show_default=False,
    ),
]
VenueConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--venue-config",
        help='A JSON file of ccxt config per venue, {"binance": {"urls": ...}}: a testnet, a '
        "proxy, timeouts.",
        show_default=False,
    ),
]
