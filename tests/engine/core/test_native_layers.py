"""The C core's files call each other in layers, never round in a circle.

_native.h lists the layers (values < orders < book < ... < matching < native_path < _native):
a file uses only functions of the files below it. A call the other way (settlement.c calling
back into matching.c, commands.c into native_path.c) makes a circle a reader cannot follow from
the top down, and that the Python twins do not have. This reads every C source of the
extension, finds which file defines each function, which other files' functions each file
names (a call, or a pointer in a method table), and fails on a circle, naming it.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ENGINE = ROOT / "velocimex_cli" / "engine"

# A definition at column 0: its return type on one line, then `name(` on the next (the C
# core's style; tests/engine/core/test_native_sources.py reads definitions the same way).
DEFINITION = re.compile(r"^[A-Za-z_][^\n;{}()#/=]*\n(\w+)\(", re.M)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')
WORD = re.compile(r"\b[A-Za-z_]\w*\b")


def _code(path: Path) -> str:
    """The file's code without comments and string literals (a name in either is no use)."""
    return STRING.sub('""', COMMENT.sub(" ", path.read_text()))


def uses_between_files(sources: list[Path]) -> dict[str, dict[str, set[str]]]:
    """file -> {other file -> the names of its functions the file uses}."""
    code = {path.stem: _code(path) for path in sources}
    defined_in: dict[str, str] = {}
    for stem, text in code.items():
        for name in DEFINITION.findall(text):
            defined_in.setdefault(name, stem)
    uses: dict[str, dict[str, set[str]]] = {stem: {} for stem in code}
    for stem, text in code.items():
        for word in set(WORD.findall(text)):
            owner = defined_in.get(word)
            if owner is not None and owner != stem:
                uses[stem].setdefault(owner, set()).add(word)
    return uses


def find_circle(uses: dict[str, dict[str, set[str]]]) -> list[str] | None:
    """A circle of files (the first again at its end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for callee in sorted(uses.get(node, {})):
            if state.get(callee) == 1:
                return [*path[path.index(callee) :], callee]
            if callee not in state:
                found = visit(callee)
                if found is not None:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(uses):
        if node not in state:
            found = visit(node)
            if found is not None:
                return found
    return None


def _explain(circle: list[str], uses: dict[str, dict[str, set[str]]]) -> str:
    steps = [
        f"{caller}.c -> {callee}.c ({', '.join(sorted(uses[caller][callee]))})"
        for caller, callee in itertools.pairwise(circle)
    ]
    return "; ".join(steps)


def test_the_c_files_call_each_other_in_layers() -> None:
    sources = sorted(ENGINE.rglob("*.c"))
    assert len(sources) >= 10  # the whole C core, not a stray file
    uses = uses_between_files(sources)
    circle = find_circle(uses)
    assert circle is None, (
        "the C core's files call each other in a circle: "
        f"{_explain(circle, uses)}. Move the function one of them needs to a lower layer "
        "(the order is in engine/core/_native.h), or call it from a higher one"
    )


def test_the_layers_are_read_from_calls_and_method_tables(tmp_path: Path) -> None:
    # The check itself: a call one way and a method-table pointer back is a circle it names.
    (tmp_path / "low.c").write_text(
        "/* calls nothing, but names high_method in a table */\n"
        'static PyMethodDef methods[] = {{"m", (PyCFunction)high_method, 0, "high_method("}};\n'
        "int\nlow_helper(void)\n{\n    return 0;\n}\n"
    )
    (tmp_path / "high.c").write_text(
        "/* low_helper(1) in a comment is no call */\n"
        "PyObject *\nhigh_method(PyObject *self)\n{\n    return low_helper() ? NULL : self;\n}\n"
    )
    uses = uses_between_files(sorted(tmp_path.glob("*.c")))
    assert uses == {"high": {"low": {"low_helper"}}, "low": {"high": {"high_method"}}}
    assert find_circle(uses) == ["high", "low", "high"]
    (tmp_path / "low.c").write_text("int\nlow_helper(void)\n{\n    return 0;\n}\n")
    uses = uses_between_files(sorted(tmp_path.glob("*.c")))
    assert find_circle(uses) is None
