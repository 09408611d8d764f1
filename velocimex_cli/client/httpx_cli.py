"""httpx's own command-line tool (`httpx._main`), kept from loading with httpx.

httpx 0.29's __init__ imports `httpx._main` (its `httpx` CLI) whenever click, rich and pygments
are installed, which drags rich.console, rich.progress and rich.live into every REST command
(~35% of `import httpx` measured under load: 632 ms instead of 988 ms; tens of milliseconds on
an idle machine), and rich.live is on the list of things a plain REST command must not import.
httpx has no public switch for it, so a stand-in module takes `httpx._main`'s place in
sys.modules before httpx is imported, and loads the real one on first call (vmx never calls it).

This adapts a private name of httpx, pinned in pyproject.toml (httpx>=0.29,<0.30);
tests/client/test_httpx_cli.py fails when an upgrade changes what it relies on.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

MODULE = "httpx._main"


def defer() -> None:
    """Put the stand-in in place, unless httpx (or its tool) is imported already."""
    if "httpx" in sys.modules or MODULE in sys.modules:
        return
    stand_in = types.ModuleType(MODULE)

    def main(*args: Any, **kwargs: Any) -> Any:
        del sys.modules[MODULE]
        return importlib.import_module(MODULE).main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]  # a bare module stands in
    sys.modules[MODULE] = stand_in
