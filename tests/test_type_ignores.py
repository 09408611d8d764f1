"""Every `# type: ignore` in velocimex_cli/ names its error codes and says why on the same line
(`# type: ignore[union-attr]  # kind is FillEvent`). mypy itself refuses one without a code
(ignore-without-code) and one no longer needed (warn_unused_ignores); the reason is ours."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import velocimex_cli

# (a noqa pragma right after the ignore is for the linter: it is not the reason)
JUSTIFIED = re.compile(r"# type: ignore\[[a-z-]+(,\s*[a-z-]+)*\]  # (?!noqa\b)\S")


def unjustified_ignores(root: Path) -> list[str]:
    """`path:line: comment` of each type: ignore comment under `root` without codes or reason."""
    found = []
    for path in sorted(root.rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if (
                token.type == tokenize.COMMENT
                and "type: ignore" in token.string
                and not JUSTIFIED.match(token.string)
            ):
                found.append(f"{path}:{token.start[0]}: {token.string}")
    return found


def test_every_type_ignore_names_its_code_and_reason() -> None:
    assert unjustified_ignores(Path(velocimex_cli.__file__).parent) == []


def test_the_rule_refuses_a_bare_or_unexplained_ignore(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "x: int = None  # type: ignore\n"
        "y: int = None  # type: ignore[assignment]\n"
        "z: int = None  # type: ignore[assignment]  # set by start()\n"
        "w: int = None  # type: ignore[assignment]  # noqa: E501\n"
        "v: int = None  # type: ignore[assignment]  # set later  # noqa: E501\n"
        "s = '# type: ignore in a string'\n"
    )
    found = unjustified_ignores(tmp_path)
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in found] == ["1", "2", "4"]
