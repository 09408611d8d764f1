"""Command-line parsing details: negative numbers are positionals, not options.

`vmx buy BINANCE BTC/USDT -1 --price 100` must reach validation as a quantity of -1 (and be
rejected as such), not fail as an unknown option `-1`.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

from velocimex_cli.cli.typer_internals import positional_when

NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _negative_number(text: str) -> bool:
    return NEGATIVE_NUMBER.match(text) is not None


class NumbersAsArguments(TyperCommand):
    """A command whose parser treats `-1`, `-0.5`, `-.5` as positional arguments."""

    def make_parser(self, ctx: Any) -> Any:
        return positional_when(super().make_parser(ctx), _negative_number)
