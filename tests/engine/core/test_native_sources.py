"""The C core's sources keep the shape docs/engine.md describes, and ship.

- Every C function's comment names its Python twin (`module.Name...`, a module of
  velocimex_cli/engine/core or engine/backtest, which must have that name), or says it has none
  ("(no Python twin"): the next engineer finds the reference of any C function by its comment.
- The sources compile without a warning under -Wall -Wextra (where a C compiler is found).
- An sdist carries every C source and header under velocimex_cli/: a file the build does not
  list would be left out, and a build from the sdist would then make no extension (it is
  optional) and run pure Python without a word.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "velocimex_cli"
C_SOURCES = sorted((PACKAGE / "engine").rglob("*.c"))
TWIN_PACKAGES = (
    "velocimex_cli.engine.core",
    "velocimex_cli.engine.backtest",
    "velocimex_cli.engine.drivers.strategies",
)

# A definition at column 0: its return type on one line, then `name(` on the next.
DEFINITION = re.compile(r"^[A-Za-z_][^\n;{}()#/=]*\n(\w+)\(", re.M)
TWIN = re.compile(r"\b([a-z_]+)\.([A-Za-z_]\w*)")


def _module(name: str) -> ModuleType | None:
    for package in TWIN_PACKAGES:
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError:
            continue
    return None


def _twin_named(comment: str) -> str | None:
    """The first `module.Name` of the comment that exists, or None."""
    for module_name, attribute in TWIN.findall(comment):
        module = _module(module_name)
        if module is not None and hasattr(module, attribute):
            return f"{module_name}.{attribute}"
    return None


def _functions(path: Path) -> list[tuple[str, str]]:
    """(function name, the comment right above its definition, or "") for each definition."""
    text = path.read_text()
    found = []
    for match in DEFINITION.finditer(text):
        before = text[: match.start()].rstrip()
        comment = before[before.rfind("/*") :] if before.endswith("*/") else ""
        found.append((match.group(1), comment))
    return found


def test_the_c_sources_are_split_by_python_twin() -> None:
    names = {path.name for path in C_SOURCES}
    assert {"book.c", "orders.c", "matching.c", "settlement.c", "native_path.c"} <= names
    assert {"liquidity.c", "recording.c"} <= {
        path.name for path in C_SOURCES if path.parent.name == "backtest"
    }
    assert len(_functions(PACKAGE / "engine" / "core" / "settlement.c")) >= 5


@pytest.mark.parametrize("path", C_SOURCES, ids=lambda path: path.name)
def test_every_c_function_names_its_python_twin(path: Path) -> None:
    missing = [
        name
        for name, comment in _functions(path)
        if "(no Python twin" not in comment and _twin_named(comment) is None
    ]
    assert not missing, (
        f"{path.relative_to(ROOT)}: these functions' comments name no Python counterpart "
        f"(module.function of engine/core or engine/backtest) nor say '(no Python twin': {missing}"
    )


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_the_c_sources_compile_without_warnings() -> None:
    result = subprocess.run(
        ["cc", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
         f"-I{sysconfig.get_paths()['include']}", *map(str, C_SOURCES)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]


def test_the_sdist_carries_every_c_source_and_header(tmp_path: Path) -> None:
    # From a clean copy: an egg-info left by an earlier build would add its files to the sdist.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, tree / name)
    leave_out = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    shutil.copytree(PACKAGE, tree / PACKAGE.name, ignore=leave_out)
    subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(tmp_path)],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        shipped = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    wanted = {str(path.relative_to(ROOT)) for path in [*C_SOURCES, *PACKAGE.rglob("*.h")]}
    assert wanted - shipped == set()
