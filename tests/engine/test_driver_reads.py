"""The engine's drivers (the simulator, the venues' mirror, strategies, backtests) read the
exchange through its public entry points (`Exchange.book`, `Exchange.account`), never by
indexing its internals (`exchange.books[...]`, `exchange.ledger.accounts[...]`): the core may
change how it keeps them. Only the core itself and the storage restore (which rebuilds that
state) index them."""

from __future__ import annotations

import ast
from pathlib import Path

import velocimex_cli.engine as engine

ENGINE = Path(engine.__file__).parent
MAY_INDEX = ("core/", "restore.py")


def internal_indexing(source: str) -> list[int]:
    """The lines of `source` that index an exchange's books or its ledger's accounts."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Attribute):
            continue
        held = node.value
        if held.attr == "books" or (
            held.attr == "accounts"
            and isinstance(held.value, ast.Attribute)
            and held.value.attr == "ledger"
        ):
            lines.append(node.lineno)
    return lines


def test_drivers_read_the_exchange_through_its_entry_points() -> None:
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        relative = path.relative_to(ENGINE).as_posix()
        if relative.startswith(MAY_INDEX):
            continue
        found += [f"{relative}:{line}" for line in internal_indexing(path.read_text())]
    assert not found, "index the exchange's internals (use exchange.book/account): " + ", ".join(
        found
    )


def test_the_check_sees_both_kinds_of_indexing() -> None:
    source = "a = exchange.books[i]\nb = self.exchange.ledger.accounts[name]\nc = cache[k]\n"
    assert internal_indexing(source) == [1, 2]
