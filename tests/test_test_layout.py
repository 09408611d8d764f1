"""The tests keep the layout tests/README.md gives them: every test directory is a package (an
`__init__.py`), and a test takes a shared helper from a conftest or a named helper module,
never from another test file (whose helpers would move or vanish with its tests)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imports_of_test_files(root: Path) -> list[str]:
    """`file:line module` of each import, anywhere under `root`, of a test file (test_*.py)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.rpartition(".")[2].startswith("test_") for name in names):
                found.append(f"{path.relative_to(root)}:{node.lineno} {names[0]}")
    return found


def test_no_test_imports_another_test_file() -> None:
    assert imports_of_test_files(TESTS) == []


def test_every_test_directory_is_a_package() -> None:
    directories = [p for p in TESTS.rglob("*") if p.is_dir() and any(p.glob("*.py"))]
    assert len(directories) > 10  # the scan sees the tree
    assert [str(d) for d in directories if not (d / "__init__.py").exists()] == []


def test_an_import_of_a_test_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("from tests.x.test_b import helper\nimport os\n")
    (tmp_path / "test_c.py").write_text(
        "from tests.x import test_b\nfrom tests.x.conftest import h\n"
    )
    assert imports_of_test_files(tmp_path) == ["test_a.py:1 tests.x.test_b", "test_c.py:1 tests.x"]
