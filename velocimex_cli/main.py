"""Console entry point.

`vmx --version` answers here, before Typer (or anything heavy) is imported, so the
commonest health check costs little more than starting Python.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from velocimex_cli import __version__

        sys.stdout.write(f"vmx {__version__}\n")
        return
    from velocimex_cli import paths

    paths.restrict_umask()  # everything vmx (and the engine it starts) writes is private
    from velocimex_cli.cli.app import run

    run()
