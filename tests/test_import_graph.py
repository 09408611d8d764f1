"""No import circle anywhere in velocimex_cli/, across its packages: counting the imports made
only for the type checker (`if TYPE_CHECKING:`), those inside functions (lazy imports) and
relative ones. tests/cli/test_module_graph.py and tests/engine/core/test_core_imports.py check
the CLI and the core within themselves; this one also sees a circle that crosses packages (the
node and the strategy deployments, the host and the engine's context). And the engine imports
nothing of the client side of the house, lazily neither (ARCHITECTURE.md: the engine never
imports the client, the CLI or rendering; what both sides need is in `wire/`)."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli
from tests.import_circles import find_circle

ROOT = Path(velocimex_cli.__file__).parent


def module_names(root: Path) -> dict[str, Path]:
    """Each module of the package at `root` by its dotted name (a package by its own name)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement in `module` may bring in (a module or a name in
    one: `from a import b` is `a.b`, which is `a` when b is not a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from its package (a package's __init__ is its own package)
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at `root` -> the modules of the package it imports, every
    import statement counted wherever it stands."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            candidates = _imported(node, name, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):  # `from a import b`: the module a.b, else a
                named = [c for c in candidates[:-1] if c in modules]
                candidates = named or candidates[-1:]
            for target in candidates:
                while target and target not in modules:  # a name inside a module
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        graph[name] = found - {name}
    return graph


# The client side of the house, by package under the root: the engine imports none of it.
CLIENT_SIDE = ("client", "cli", "local", "config", "output", "render")


def engine_imports_of_client_side(graph: dict[str, set[str]], package: str) -> list[str]:
    """Each import of a client-side module by a module of `package`.engine, as "a -> b"."""
    engine = f"{package}.engine"
    client_side = tuple(f"{package}.{name}" for name in CLIENT_SIDE)
    return sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name == engine or name.startswith(f"{engine}.")
        for target in targets
        if target in client_side or target.startswith(tuple(f"{c}." for c in client_side))
    )


def test_the_engine_imports_nothing_of_the_client_side() -> None:
    found = engine_imports_of_client_side(import_graph(ROOT), "velocimex_cli")
    assert found == [], "the engine imports the client side: " + "; ".join(found)


def test_the_client_side_scan_sees_lazy_imports(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    for package in ("", "engine", "engine/backtest", "client", "wire"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "wire" / "errors.py").write_text("class Unreachable(Exception): ...\n")
    (root / "client" / "errors.py").write_text("from pkg.wire.errors import Unreachable\n")
    sweep = root / "engine" / "backtest" / "sweep.py"
    sweep.write_text("def run():\n    from pkg.wire.errors import Unreachable\n")
    assert engine_imports_of_client_side(import_graph(root), "pkg") == []
    sweep.write_text("def run():\n    from ...client.errors import Unreachable\n")
    assert engine_imports_of_client_side(import_graph(root), "pkg") == [
        "pkg.engine.backtest.sweep -> pkg.client.errors"
    ]
    sweep.write_text("def run():\n    import pkg.client\n")
    assert engine_imports_of_client_side(import_graph(root), "pkg") == [
        "pkg.engine.backtest.sweep -> pkg.client"
    ]


def test_velocimex_cli_has_no_import_circle() -> None:
    graph = import_graph(ROOT)
    # the scan sees across packages, lazy imports included
    assert (
        "velocimex_cli.engine.drivers.strategies.deployments" in graph["velocimex_cli.engine.node"]
    )
    assert "velocimex_cli.cli.order_watch" in graph["velocimex_cli.cli.order"]
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_scan_finds_a_circle_across_packages(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "a.py").write_text("from pkg.sub import b\n")
    (root / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
    )
    (root / "sub" / "c.py").write_text("def f():\n    from ..a import x\n")
    (root / "d.py").write_text("import pkg.sub.c\nfrom pkg import a\n")
    graph = import_graph(root)
    assert graph == {
        "pkg": set(),
        "pkg.sub": set(),
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub.b": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.a"},
        "pkg.d": {"pkg.sub.c", "pkg.a"},
    }
    assert find_circle(graph) == ["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]
    (root / "sub" / "c.py").write_text("import pkg\n")  # the package, not a module of it
    assert find_circle(import_graph(root)) is None
