"""Console entry point.

`vmx --version` answers here, before Typer (or anything heavy) is imported, so the
commonest health check costs little more than starting Python.

Garbage collection is off while vmx starts: importing Typer, vmx's commands and the API client
makes a few hundred thousand objects that live as long as the process, and the collector's
passes over them while they are made find nothing to free (they cost `vmx order list --json`
about 7 ms of CPU, a TAB completion about 8 ms, measured). It is turned back on before any
command runs (the root command's callback, cli/app.py); a completion answer, a help page or a
usage error, which run no command, end with it still off.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from velocimex_cli import __version__

        sys.stdout.write(f"vmx {__version__}\n")
        return
    import gc

    gc.disable()  # until a command runs (see above)
    from velocimex_cli import paths

    paths.restrict_umask()  # everything vmx (and the engine it starts) writes is private
    from velocimex_cli.cli.app import run

    run()
