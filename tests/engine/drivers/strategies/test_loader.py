"""Loading user strategy files: a good file gives its class; each kind of bad file is a clear
INVALID_PARAMETER on `file` saying what is wrong and where."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from velocimex_cli.engine.drivers.strategies.loader import (
    check_strategy_file,
    load_strategy_file,
    load_strategy_source,
)
from velocimex_cli.strategy import Strategy
from velocimex_cli.wire.errors import InvalidParameter

GOOD = """
from decimal import Decimal
from velocimex_cli.strategy import Param, Strategy


class Breakout(Strategy):
    id = "breakout"
    name = "Breakout"
    description = "Buys a new high."
    params = {
        "window": Param(int, 20, min=2, max=500, description="trades to look back"),
        "amount": Param(Decimal, Decimal("0.001"), min=Decimal("0.0001")),
    }

    def on_start(self):
        self.high = None

    def on_trade(self, trade):
        if self.high is not None and trade.price > self.high:
            self.ctx.buy(self.config.amount)
        self.high = trade.price if self.high is None else max(self.high, trade.price)
"""


def write(tmp_path: Path, text: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(source: str, **kwargs: object) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        load_strategy_source(textwrap.dedent(source), "mine.py", **kwargs)  # type: ignore[arg-type]
    assert caught.value.details["parameter"] == "file"
    return caught.value


def test_a_good_file_loads_its_strategy_class(tmp_path: Path) -> None:
    cls = load_strategy_file(write(tmp_path, GOOD))
    assert issubclass(cls, Strategy)
    assert cls.__name__ == "Breakout"
    described = cls.describe()
    assert described["strategy_id"] == "breakout"
    assert described["params"][0] == {
        "name": "window",
        "type": "int",
        "value_type": "int",
        "required": False,
        "default": 20,
        "min": 2,
        "max": 500,
        "choices": None,
        "description": "trades to look back",
    }
    assert cls.validate({"amount": "0.5"})["amount"] == Decimal("0.5")


def test_a_syntax_error_names_its_line_and_column() -> None:
    line = GOOD.splitlines().index("    def on_start(self):") + 1
    error = error_of(GOOD.replace("def on_start(self):", "def on_start(self)"))
    assert f"syntax error at line {line}, column 23: expected ':'" in error.message
    assert error.details["line"] == line
    assert "def on_start(self)" in error.details["text"]


def test_an_exception_while_loading_names_its_line() -> None:
    error = error_of(
        "from velocimex_cli.strategy import Strategy\nx = 1\nraise RuntimeError('no')\n"
    )
    assert error.message == "mine.py: line 3: RuntimeError while loading: no"


def test_an_import_that_fails_is_reported() -> None:
    error = error_of("import no_such_module_here\n")
    assert "ModuleNotFoundError" in error.message and "line 1" in error.message


def test_sys_exit_at_import_is_an_error_not_an_exit() -> None:
    error = error_of("import sys\nsys.exit(3)\n")
    assert "SystemExit" in error.message


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("x = 1\n", "defines no strategy"),
        (
            "from velocimex_cli.strategy import Strategy\n"
            "class A(Strategy):\n    id = 'a'\nclass B(Strategy):\n    id = 'b'\n",
            "defines 2 strategies (A, B): keep one per file",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass A(Strategy):\n    id = 'Bad Id'\n",
            "A.id must be",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass MeanRevert(Strategy):\n    pass\n",
            "MeanRevert has no id: give the class one, e.g. id = 'meanrevert'",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass A(Strategy):\n    id = 'twap'\n",
            "strategy id 'twap' is taken by a built-in strategy",
        ),
        (
            "from velocimex_cli.strategy import Param, Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    params = {'size': Param(float, 1.0)}\n",
            "parameter 'size': type must be int, Decimal, str or bool",
        ),
        (
            "from velocimex_cli.strategy import Param, Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    params = {'n': Param(int, 0, min=1)}\n",
            "parameter 'n': its default is invalid",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    params = {'n': 5}\n",
            "parameter 'n' must be declared with Param(...)",
        ),
        (
            "from velocimex_cli.strategy import Param, Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    params = {'Fast Window': Param(int, 1)}\n",
            "must be a lower-case identifier",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    def on_trade(self):\n        pass\n",
            "A.on_trade must take (self, trade)",
        ),
        (
            "from velocimex_cli.strategy import Strategy\nclass A(Strategy):\n"
            "    id = 'a'\n    async def on_book(self, book):\n        pass\n",
            "A.on_book must be a plain def, not async",
        ),
    ],
)
def test_bad_strategy_files_say_what_is_wrong(source: str, says: str) -> None:
    assert says in error_of(source).message


def test_only_classes_defined_in_the_file_count() -> None:
    source = GOOD + "\nfrom velocimex_cli.engine.drivers.strategies.builtin.twap import Twap\n"
    assert load_strategy_source(source, "mine.py").__name__ == "Breakout"


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="cannot be read"):
        load_strategy_file(tmp_path / "missing.py")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidParameter, match="not UTF-8"):
        load_strategy_file(binary)


def test_checking_in_a_child_process_describes_a_good_file(tmp_path: Path) -> None:
    noisy = GOOD.replace("class Breakout", "print('hello from the file')\n\n\nclass Breakout")
    described = check_strategy_file(write(tmp_path, noisy))
    assert described["strategy_id"] == "breakout"
    assert [p["name"] for p in described["params"]] == ["window", "amount"]
    assert described["params"][1]["default"] == Decimal("0.001")


def test_checking_in_a_child_process_reports_errors_and_stops_endless_files(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_strategy_file(write(tmp_path, "x = (\n", "broken.py"))
    assert "syntax error at line 1" in caught.value.message
    assert caught.value.details["line"] == 1
    with pytest.raises(InvalidParameter, match="took longer than 1s"):
        check_strategy_file(write(tmp_path, "while True:\n    pass\n", "loop.py"), timeout=1)
    with pytest.raises(InvalidParameter, match="ended the process"):
        check_strategy_file(write(tmp_path, "import os\nos._exit(4)\n", "exit.py"))
