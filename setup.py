"""Build the optional C core, velocimex_cli/engine/core/_native.c (metadata: pyproject.toml).

The extension is optional: without a C compiler the install still succeeds and the engine uses
its pure-Python Order and OrderBook (velocimex_cli/engine/core/orders.py and book.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "velocimex_cli.engine.core._native",
            ["velocimex_cli/engine/core/_native.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
