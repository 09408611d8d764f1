"""Command-line mistakes (unknown option, bad value, missing argument) reported like every
other failure: exit 2, and with JSON output asked for (`--json`, `-o json|ndjson`, or the
`output` setting) the API's error JSON on stderr, whichever command it was.

    {"error": {"code": "INVALID_PARAMETER", "message": "Invalid value for '--color': ...",
               "details": {"parameter": "--color", "value": "purple"}}}

A bad value is INVALID_PARAMETER naming the parameter and the value, as the API does; any
other mistake is USAGE.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from velocimex_cli.cli import typer_internals as click  # Typer's own copy of click's

JSON_FORMATS = ("json", "ndjson")


def wants_json(argv: Sequence[str], configured: Callable[[], str | None] | None = None) -> bool:
    """Whether the command line (or, without a format on it, the settings) asks for JSON."""
    asked: str | None = None
    tokens = list(argv)
    for index, token in enumerate(tokens):
        if token == "--":
            break
        if token == "--json":
            asked = asked or "json"
        elif token in ("-o", "--output") and index + 1 < len(tokens):
            asked = tokens[index + 1].strip().lower()
        elif token.startswith("--output="):
            asked = token.split("=", 1)[1].strip().lower()
        elif token.startswith("-o") and len(token) > 2 and not token.startswith("--"):
            asked = token[2:].strip().lower()
    if asked is None and configured is not None:
        try:
            asked = configured()
        except Exception:  # a broken setting must not hide the usage error
            asked = None
    return asked in JSON_FORMATS


def _value_given(argv: Sequence[str], names: Sequence[str]) -> str | None:
    tokens = list(argv)
    for index, token in enumerate(tokens):
        for name in names:
            if token == name and index + 1 < len(tokens):
                return tokens[index + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def error_body(exc: click.ClickException, argv: Sequence[str]) -> dict[str, Any]:
    message = exc.format_message()
    details: dict[str, Any] = {}
    code = "USAGE"
    if isinstance(exc, click.BadParameter):
        code = "INVALID_PARAMETER"
        param = exc.param
        if param is not None:
            names = [n for n in getattr(param, "opts", []) if n.startswith("--")]
            details["parameter"] = names[0] if names else (param.name or "")
            value = _value_given(argv, getattr(param, "opts", []))
            if value is not None:
                details["value"] = value
        elif exc.param_hint:
            hint = str(exc.param_hint).strip("'\"")
            details["parameter"] = hint
            value = _value_given(argv, [hint])
            if value is not None:
                details["value"] = value
    elif isinstance(exc, click.NoSuchOption):
        details["option"] = exc.option_name
    elif isinstance(exc, click.MissingParameter) and exc.param is not None:
        details["parameter"] = exc.param.name or ""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        message += f" (see `{exc.ctx.command_path} --help`)"
    return {"error": {"code": code, "message": message, "details": details}}


def report(
    exc: click.ClickException,
    argv: Sequence[str],
    configured: Callable[[], str | None] | None = None,
) -> int:
    """Print a command-line mistake as JSON or as click does; return the exit code."""
    if wants_json(argv, configured) and not isinstance(exc, click.NoArgsIsHelpError):
        from velocimex_cli.wire import jsonfmt

        sys.stderr.write(jsonfmt.dumps(error_body(exc, argv)) + "\n")
        sys.stderr.flush()
    else:
        exc.show()
    return exc.exit_code
