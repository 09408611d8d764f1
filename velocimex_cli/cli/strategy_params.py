"""A strategy's parameters as given on the command line (`--param key=value`, repeatable), for
`vmx strategy deploy` and `vmx backtest`."""

from __future__ import annotations

from typing import Any


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """key=value pairs; JSON values (numbers, true, lists) are parsed, others kept as text."""
    from velocimex_cli.wire import jsonfmt
    from velocimex_cli.wire.errors import InvalidParameter

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter("param", pair, f"--param must look like key=value, not {pair!r}")
        try:
            params[key.strip()] = jsonfmt.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params
