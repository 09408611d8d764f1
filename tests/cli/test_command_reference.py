"""docs/cli.md's "Every command" list names every command `vmx` has: each noun, and each of its
subcommands (`vmx markets status|list`, `vmx order place …`), so a new command cannot ship
without its line in the reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from velocimex_cli.cli.app import NOUNS, app

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def every_command() -> list[tuple[str, ...]]:
    """(noun,) and (noun, subcommand) of every command of `vmx`."""
    root: Any = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []
    for noun in NOUNS:
        found.append((noun,))
        command = root.get_command(None, noun)
        found += [(noun, sub) for sub in getattr(command, "commands", {})]
    return found


def listed(section: str) -> set[tuple[str, ...]]:
    """What a reference section names: `vmx NOUN` and `vmx NOUN SUB|SUB…` in its code spans."""
    names: set[tuple[str, ...]] = set()
    for span in re.findall(r"`([^`]*)`", section):
        for nouns, subs in re.findall(r"\bvmx ([a-z][a-z|-]*)(?: ([a-z][a-z|-]*))?", span):
            for noun in nouns.split("|"):  # `vmx buy|sell …`
                names.add((noun,))
                names.update((noun, sub) for sub in (subs.split("|") if subs else ()))
    return names


def every_command_section() -> str:
    text = CLI_DOC.read_text(encoding="utf-8")
    section = re.search(r"^## Every command\n(.*?)^## ", text, re.S | re.M)
    assert section, "docs/cli.md has no '## Every command' section"
    return section.group(1)


def test_the_reference_lists_every_command() -> None:
    names = listed(every_command_section())
    missing = [" ".join(command) for command in every_command() if command not in names]
    assert missing == [], f"docs/cli.md's 'Every command' does not name: {missing}"


def test_a_command_left_out_is_found() -> None:
    section = "- `vmx markets status|list [E]`, `vmx order place X` (`vmx data`), `vmx buy|sell`\n"
    names = listed(section)
    assert {("markets", "status"), ("markets", "list"), ("order", "place")} <= names
    assert ("data", "import") not in names and ("data",) in names
    assert ("order", "cancel") not in names
    assert {("buy",), ("sell",)} <= names
