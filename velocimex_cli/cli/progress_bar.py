"""The progress bar long commands draw on stderr (a backtest's replay, a simulation, a sweep,
a data import): on a terminal only, transient, with colour unless NO_COLOR says otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

    from velocimex_cli.cli.factory import Factory


def stderr_progress(factory: Factory, *columns: str | ProgressColumn) -> Progress | None:
    """A Rich bar with `columns` on stderr when it is a terminal (None otherwise)."""
    if not factory.io.is_stderr_tty:
        return None
    from rich.console import Console
    from rich.progress import Progress

    console = factory.io.console(stderr=True)
    if not console.is_terminal:  # NO_COLOR: a terminal still, with a bar but no colour
        console = Console(
            file=factory.io.stderr, force_terminal=True, no_color=True, color_system=None
        )
    return Progress(*columns, console=console, transient=True)
