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
