"""The CLI's and the renderers' modules stay small enough to read as one thing each: a module
that grows past the limit is split by responsibility (as order.py, watch.py, backtest.py,
engine.py, engine_keys.py, strategy.py and render/ladder.py were), not left to grow."""

from __future__ import annotations

from pathlib import Path

import velocimex_cli.cli
import velocimex_cli.render

MAX_LINES = 500
PACKAGES = (Path(velocimex_cli.cli.__file__).parent, Path(velocimex_cli.render.__file__).parent)


def test_no_cli_or_render_module_is_over_the_limit() -> None:
    over = {
        f"{path.parent.name}/{path.name}": lines
        for package in PACKAGES
        for path in sorted(package.glob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert over == {}, f"split these by responsibility (over {MAX_LINES} lines): {over}"
