"""The engine stands on its own side of the house: it never imports the client side.

What starts and finds the local engine (velocimex_cli.local), the CLI, configuration, output
and rendering are the client's; the engine shares with it only wire/, paths, the engine record
(engine.json and its locks), file locks and the secret-variable rule. Checked on the source, so
an import inside a function counts too.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import velocimex_cli

PACKAGE = Path(velocimex_cli.__file__).parent
CLIENT_SIDE = (
    "velocimex_cli.local",
    "velocimex_cli.cli",
    "velocimex_cli.config",
    "velocimex_cli.output",
    "velocimex_cli.render",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_no_engine_module_imports_the_client_side() -> None:
    crossings = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in sorted((PACKAGE / "engine").rglob("*.py"))
        for line, name in _imports(path)
        if any(name == side or name.startswith(side + ".") for side in CLIENT_SIDE)
    ]
    assert crossings == []


def test_the_launcher_lives_on_the_client_side() -> None:
    launcher = importlib.import_module("velocimex_cli.local.launcher")
    assert callable(launcher.ensure_running)
    assert not (PACKAGE / "engine" / "launcher.py").exists()
