"""Plain coercion of command-line values, so a command never imports pydantic.

Typer (0.29+) coerces every non-flag parameter through a pydantic TypeAdapter; importing
pydantic and building the adapters costs more than the rest of a REST command together.
vmx's parameters are all `str`, `int` (with optional bounds), `float`, `bool` or `list[str]`,
which need no pydantic: this module fills in a plain coercion for exactly those and leaves any
other annotation to Typer. The Typer internals it uses are typer_internals'.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from velocimex_cli.cli.typer_internals import (
    BadParameter,
    RuntimeParam,
    has_runtime_param,
    set_runtime_param,
    unmade_help_option,
)

_LIST_OF_STR = list[str]
HELP_NAMES = ["-h", "--help"]

# A float option (seconds, a speed, frames per second) in plain ASCII decimal notation: float()
# would also take "1_0", " ١ " and "nan", none of which a person means as a number here.
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def plain_float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class PlainParam(RuntimeParam):
    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        annotation = self.annotation
        if annotation is float:
            number = plain_float(value)
            if number is None:
                message = f"{value!r} is not a number (ASCII digits, e.g. 2.5; no _)."
                raise BadParameter(message, ctx=ctx, param=param)
            return number
        if annotation is str:
            return value if isinstance(value, str) else str(value)
        if annotation is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true")
        if annotation == _LIST_OF_STR:
            return [str(item) for item in value]
        from velocimex_cli.wire.numbers import parse_int  # (and decimal) for int values only

        number = value if type(value) is int else parse_int(str(value))
        if number is None:  # int() would take "1_000" and non-ASCII digits
            message = f"{value!r} is not a valid integer (ASCII digits only, no _)."
            raise BadParameter(message, ctx=ctx, param=param)
        low = getattr(self.parameter_info, "min", None)
        high = getattr(self.parameter_info, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"{'' if low is None else f'{low}<='}x{'' if high is None else f'<={high}'}"
            raise BadParameter(f"{number} is not in the range {bounds}.", ctx=ctx, param=param)
        return number


_PLAIN = (str, int, float, bool)


def use_plain_coercion(command: Any) -> Any:
    """Give every simple parameter of `command` (and its subcommands) plain coercion."""
    _install(command)
    return command


def _install(command: Any) -> None:
    params = list(getattr(command, "params", ()))
    help_option = unmade_help_option(command, HELP_NAMES)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or has_runtime_param(param):
            continue
        if descriptor.file_annotation is not None:
            continue
        annotation = descriptor.annotation
        if annotation in _PLAIN or annotation == _LIST_OF_STR:
            set_runtime_param(
                param, PlainParam(annotation=annotation, parameter_info=descriptor.parameter_info)
            )
    for sub in getattr(command, "commands", {}).values():
        _install(sub)
