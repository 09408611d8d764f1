"""The engine core's modules import one another without a circle, counting the imports made
only for the type checker (`if TYPE_CHECKING:`) and those inside functions: the Exchange's
mixins see it through exchange_state.ExchangeState, never through exchange.py."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli.engine.core as core
from tests.import_circles import find_circle

PACKAGE = "velocimex_cli.engine.core"


def imports_within(directory: Path, package: str) -> dict[str, set[str]]:
    """Each module of `directory` (as `package`) -> the modules of the package it imports."""
    modules = {path.stem for path in directory.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        tree = ast.parse((directory / f"{name}.py").read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                if node.module == package:  # from velocimex_cli.engine.core import risk
                    found.update(alias.name for alias in node.names if alias.name in modules)
                elif node.module.startswith(package + "."):
                    found.add(node.module.removeprefix(package + ".").split(".")[0])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(package + "."):
                        found.add(alias.name.removeprefix(package + ".").split(".")[0])
        graph[name] = found & modules - {name}
    return graph


def test_the_core_has_no_import_circle() -> None:
    graph = imports_within(Path(core.__file__).parent, PACKAGE)
    assert "exchange" in graph and "matching" in graph  # the scan sees the core's modules
    circle = find_circle(graph)
    assert circle is None, "import circle in the engine core: " + " -> ".join(circle or [])


def test_no_core_module_imports_the_exchange() -> None:
    graph = imports_within(Path(core.__file__).parent, PACKAGE)
    importers = sorted(name for name, targets in graph.items() if "exchange" in targets)
    # liquidity.py (the backtest's resting liquidity) is built on an Exchange; exchange.py
    # imports nothing of it.
    assert importers == ["liquidity"]


def test_the_circle_finder_finds_a_type_only_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
    )
    (package / "c.py").write_text("import pkg.a\n")
    graph = imports_within(package, "pkg")
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert find_circle(graph) == ["a", "b", "a"]
