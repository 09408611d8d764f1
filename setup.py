"""Build the optional C core, the extension velocimex_cli.engine.core._native (metadata:
pyproject.toml).

Its sources are one C file per Python module they mirror, behind one header
(velocimex_cli/engine/core/_native.h; docs/engine.md is the guide): the engine's beside
engine/core/*.py, the backtest's (the recording reader, the book mirror) beside
engine/backtest/*.py, all in the one extension.

The extension is optional: without a C compiler the install still succeeds and the engine uses
its pure-Python Order and OrderBook (velocimex_cli/engine/core/orders.py and book.py).
"""

from pathlib import Path

from setuptools import Extension, setup

CORE = Path("velocimex_cli/engine/core")
BACKTEST = Path("velocimex_cli/engine/backtest")
STRATEGIES = Path("velocimex_cli/engine/drivers/strategies")

# The module file first, then the engine's files in their layers' order (_native.h: a file
# calls only those before it), then the backtest's, then the strategies' TradeTick.
SOURCES = [
    CORE / "_native.c",
    CORE / "values.c",
    *(
        CORE / f"{name}.c"
        for name in (
            "orders",
            "book_levels",
            "book_queries",
            "book",
            "fills",
            "locks",
            "ledger",
            "market_stats",
            "views",
            "hand_backs",
            "commands",
            "protection",
            "risk",
            "settlement",
            "matching",
            "native_path",
        )
    ),
    BACKTEST / "liquidity.c",
    BACKTEST / "recording.c",
    STRATEGIES / "event_values.c",  # a strategy's TradeTick (only values.c below it)
]

setup(
    ext_modules=[
        Extension(
            "velocimex_cli.engine.core._native",
            [str(path) for path in SOURCES],
            depends=[str(CORE / "_native.h")],
            optional=True,
            # Clean under -Wall -Wextra (tests/engine/core/test_native_sources.py keeps it so).
            # -flto: one file per Python module must not cost the calls between them their
            # inlining (callgrind: the C core's own instructions 54.7M -> 36.5M on the engine
            # benchmark's 20,000-operation stream).
            extra_compile_args=["-O2", "-flto", "-Wall", "-Wextra"],
            extra_link_args=["-O2", "-flto"],
        )
    ]
)
