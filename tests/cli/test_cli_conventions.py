"""The CLI's modules follow one style, checked on their source: parameters declared with
`Annotated` (never a `typer.Option(...)` default), every exit code named in wire/errors.ExitCode
(never a bare number), options objects built by keyword, no `if True:` blocks."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli.cli

CLI = Path(velocimex_cli.cli.__file__).parent
MODULES = sorted(CLI.glob("*.py"))


def _trees() -> list[tuple[str, ast.Module]]:
    return [(path.name, ast.parse(path.read_text(encoding="utf-8"))) for path in MODULES]


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


def test_every_exit_code_is_named() -> None:
    found = []
    for name, tree in _trees():
        for node in ast.walk(tree):
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
    assert found == []


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
