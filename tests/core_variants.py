"""Running a script under each engine core: the C core, or the pure-Python one
(VMX_PURE_PYTHON=1), in a fresh interpreter, for the differential tests that compare them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, args: list[str], pure: bool, timeout: float = 300) -> Any:
    """The JSON `script` prints on stdout, run from the repository root with `args`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("VMX_PURE_PYTHON", None)
    if pure:
        env["VMX_PURE_PYTHON"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def count_native_places() -> list[int]:
    """In a script `run_script` runs: count the placements the C core takes itself (not handed
    back to Python) from now on; the count is the list's one item (always 0 in pure Python)."""
    import velocimex_cli.engine.core.exchange as exchange_module
    from velocimex_cli.engine.core import native_path

    taken = [0]
    place = native_path.place
    if place is not None:

        def counted(*args: Any) -> Any:
            order = place(*args)
            taken[0] += order is not None
            return order

        exchange_module.native_place = counted
    return taken
