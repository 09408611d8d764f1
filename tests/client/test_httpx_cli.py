"""The stand-in for httpx's command-line tool (client/httpx_cli.py) is still needed and still
works. An upgrade of httpx that changes either fails here, loudly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PROBE = (
    "import sys, json\n{setup}\nimport httpx\n"
    "print(json.dumps({{'tool': 'httpx._main' in sys.modules,"
    " 'stand_in': getattr(sys.modules.get('httpx._main'), '__file__', None) is None,"
    " 'rich': any(m == 'rich' or m.startswith('rich.') for m in sys.modules),"
    " 'click': 'click' in sys.modules, 'main': callable(getattr(httpx, 'main', None))}}))\n"
)


def _probe(setup: str) -> dict[str, bool]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout)


def test_httpx_is_the_pinned_series() -> None:
    pinned = re.search(r'"httpx>=([0-9.]+),<([0-9.]+)"', PYPROJECT.read_text())
    assert pinned, "httpx is not pinned to a series in pyproject.toml"
    low, high = (tuple(int(p) for p in pinned.group(n).split(".")[:2]) for n in (1, 2))
    assert low <= tuple(int(p) for p in version("httpx").split(".")[:2]) < high


def test_httpx_alone_still_imports_its_tool_and_rich() -> None:
    alone = _probe("")
    # If this fails, httpx no longer imports its CLI on import: client/httpx_cli.py can go.
    assert alone == {"tool": True, "stand_in": False, "rich": True, "click": True, "main": True}


def test_with_the_stand_in_httpx_imports_neither() -> None:
    deferred = _probe("import velocimex_cli.client")
    assert deferred == {"tool": True, "stand_in": True, "rich": False, "click": False, "main": True}
