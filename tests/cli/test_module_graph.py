"""The CLI's modules import one another without circles, lazy imports inside functions included:
a reader can follow the commands from the root down, and no module needs a guard for "the other
one may not be loaded yet"."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli.cli

CLI = Path(velocimex_cli.cli.__file__).parent
PREFIX = "velocimex_cli.cli."


def _graph() -> dict[str, set[str]]:
    modules = {path.stem for path in CLI.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name in modules:
        tree = ast.parse((CLI / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "velocimex_cli.cli":
                    targets = [PREFIX + alias.name for alias in node.names]
                else:
                    targets = [node.module]
            for target in targets:
                if target.startswith(PREFIX):
                    imported = target[len(PREFIX) :].split(".")[0]
                    if imported in modules and imported != name:
                        graph[name].add(imported)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_graph_sees_the_stream_and_watch_modules() -> None:
    graph = _graph()
    assert "stream" in graph["watch"]  # the live views reuse the stream's plumbing
    assert "stream" in graph["order_watch"]
    assert "order_watch" in graph["order"]  # imported when `vmx order watch` runs


def test_no_cli_module_imports_itself_back() -> None:
    assert _cycles(_graph()) == []
