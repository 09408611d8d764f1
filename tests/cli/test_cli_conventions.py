"""The CLI's modules follow one style, checked on their source: parameters declared with
`Annotated` (never a `typer.Option(...)` default), every exit code named in wire/errors.ExitCode
(never a bare number, in the CLI nor in the engine server whose result `vmx engine serve` exits
with), options objects built by keyword, no `if True:` blocks."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli.cli

CLI = Path(velocimex_cli.cli.__file__).parent
MODULES = sorted(CLI.glob("*.py"))
# `vmx engine serve` exits with what the server's run() returns.
SERVER = Path(velocimex_cli.__file__).parent / "engine" / "api" / "server.py"


def _trees(paths: list[Path] = MODULES) -> list[tuple[str, ast.Module]]:
    return [(path.name, ast.parse(path.read_text(encoding="utf-8"))) for path in paths]


def _is_typer_param(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "typer"
        and node.func.attr in ("Option", "Argument")
    )


def test_every_parameter_is_declared_with_annotated() -> None:
    found = []
    for name, tree in _trees():
        parameter_constants = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign) and _is_typer_param(node.value)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for default in [*node.args.defaults, *node.args.kw_defaults]:
                    by_name = isinstance(default, ast.Name) and default.id in parameter_constants
                    if _is_typer_param(default) or by_name:
                        found.append(f"{name}:{default.lineno}")  # type: ignore[union-attr]
    assert found == []


def _number(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value != 0


def _returned(value: ast.expr | None) -> list[ast.Constant]:
    """The constants a return statement may return (both arms of `a if c else b`)."""
    if isinstance(value, ast.IfExp):
        return _returned(value.body) + _returned(value.orelse)
    return [value] if isinstance(value, ast.Constant) else []


def _numbered_exit_codes(trees: list[tuple[str, ast.Module]]) -> list[str]:
    found = []
    for name, tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.returns is not None
                and ast.unparse(node.returns) == "int"
            ):  # a function of the CLI's that returns an int returns an exit code
                found += [
                    f"{name}:{ret.lineno} return {value.value}"
                    for ret in ast.walk(node)
                    if isinstance(ret, ast.Return)
                    for value in _returned(ret.value)
                    if _number(value)
                ]
            if isinstance(node, ast.keyword) and node.arg == "exit_code" and _number(node.value):
                found.append(f"{name}:{node.value.lineno} exit_code={node.value.value}")  # type: ignore[attr-defined]
            if isinstance(node, ast.Call) and node.args and _number(node.args[0]):
                called = ast.unparse(node.func)
                if called in ("typer.Exit", "sys.exit", "SystemExit", "Exit"):
                    found.append(f"{name}:{node.lineno} {called}({node.args[0].value})")  # type: ignore[attr-defined]
            if isinstance(node, ast.Assign) and _number(node.value):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Name)
                        and target.id.isupper()
                        and ("EXIT" in target.id or target.id in ("USAGE", "INTERRUPTED"))
                    ):
                        found.append(f"{name}:{node.lineno} {target.id}")
    return found


def test_every_exit_code_is_named() -> None:
    assert _numbered_exit_codes(_trees([*MODULES, SERVER])) == []


def test_a_numbered_exit_code_is_found(tmp_path: Path) -> None:
    source = tmp_path / "numbered.py"
    source.write_text(
        "def run() -> int:\n    if busy:\n        return 1\n    return 0\n"
        "def port() -> str:\n    return 1\n"
        "def done() -> int:\n    return ExitCode.OK if ok else 2\n"
        "IN_USE_EXIT = 1\n"
        "typer.Exit(3)\n",
        encoding="utf-8",
    )
    found = _numbered_exit_codes(_trees([source]))
    assert found == [
        "numbered.py:3 return 1",
        "numbered.py:8 return 2",
        "numbered.py:9 IN_USE_EXIT",
        "numbered.py:10 typer.Exit(3)",
    ]


def test_options_objects_are_built_by_keyword() -> None:
    found = []
    for name, tree in _trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.endswith(("Options", "Command"))
                and node.args
            ):
                found.append(f"{name}:{node.lineno} {node.func.id}")
    assert found == []


def test_no_if_true_blocks() -> None:
    found = [
        f"{name}:{node.lineno}"
        for name, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Constant)
        and node.test.value is True
    ]
    assert found == []
