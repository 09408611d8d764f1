"""Strategy parameters: declared on the class, validated on deploy, listed as JSON.

A strategy declares its parameters as a dict of `Param`s::

    params = {
        "fast": Param(int, 10, min=2, max=1000, description="fast window, in trades"),
        "amount": Param(Decimal, Decimal("0.01"), min=Decimal("0.00001")),
        "side": Param(str, "buy", choices=("buy", "sell")),
        "limit_price": Param(Decimal, description="worst price"),  # no default: required
    }

Types are `int`, `Decimal`, `str` and `bool` (money is a Decimal, never a float). A value that
does not fit its declaration is INVALID_PARAMETER naming the parameter, with the rule it broke.
Values from JSON or the command line are coerced where that is exact: "12" or 12.0 for an int,
"0.5", 0.5 (through its repr) or 1 for a Decimal, true/"yes"/"1" for a bool.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.numbers import parse_decimal

PARAM_TYPES: dict[type, str] = {int: "int", Decimal: "decimal", str: "str", bool: "bool"}
TYPE_NAMES = {name: cls for cls, name in PARAM_TYPES.items()}
PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
MAX_STR_LENGTH = 1000
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class Required:
    """The default of a parameter that has none: a deploy must give it."""

    _instance: Required | None = None

    def __new__(cls) -> Required:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = Required()


class ParamDeclarationError(ValueError):
    """A strategy class declares its parameters wrongly (a programming error, caught at add)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One declared parameter. `default` REQUIRED (the default) makes it mandatory."""

    type: type
    default: Any = REQUIRED
    min: Any = None
    max: Any = None
    choices: tuple[Any, ...] | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        return "choice" if self.choices is not None else PARAM_TYPES.get(self.type, "?")

    def check_declaration(self, name: str) -> None:
        """Raise ParamDeclarationError when this declaration cannot work."""
        if not isinstance(name, str) or not PARAM_NAME.match(name) or keyword.iskeyword(name):
            raise ParamDeclarationError(
                f"parameter name {name!r} must be a lower-case identifier (a-z, 0-9, _)"
            )
        if self.type not in PARAM_TYPES:
            raise ParamDeclarationError(
                f"parameter {name!r}: type must be int, Decimal, str or bool, not "
                f"{getattr(self.type, '__name__', self.type)!r} (money is a Decimal, never float)"
            )
        if self.type is bool and (self.min is not None or self.max is not None):
            raise ParamDeclarationError(f"parameter {name!r}: a bool takes no min or max")
        if self.type is str and (self.min is not None or self.max is not None):
            raise ParamDeclarationError(
                f"parameter {name!r}: a str takes no min or max (use choices)"
            )
        for label in ("min", "max"):
            bound = getattr(self, label)
            if bound is not None and _coerce(self.type, bound) is None:
                raise ParamDeclarationError(
                    f"parameter {name!r}: {label} {bound!r} is not a valid {self.type_name}"
                )
        if (
            self.min is not None
            and self.max is not None
            and _coerce(self.type, self.min) > _coerce(self.type, self.max)
        ):
            raise ParamDeclarationError(f"parameter {name!r}: min is above max")
        if self.choices is not None:
            if not isinstance(self.choices, tuple | list) or not self.choices:
                raise ParamDeclarationError(
                    f"parameter {name!r}: choices must be a non-empty tuple"
                )
            for choice in self.choices:
                if _coerce(self.type, choice) is None:
                    raise ParamDeclarationError(
                        f"parameter {name!r}: choice {choice!r} is not a valid "
                        f"{PARAM_TYPES[self.type]}"
                    )
        if not isinstance(self.description, str):
            raise ParamDeclarationError(f"parameter {name!r}: description must be a string")
        if not self.required:
            try:
                self.validate(name, self.default)
            except InvalidParameter as exc:
                raise ParamDeclarationError(
                    f"parameter {name!r}: its default is invalid: {exc.message}"
                ) from None

    def validate(self, name: str, value: Any) -> Any:
        """The value coerced to the declared type, or INVALID_PARAMETER naming `name`."""
        kind = PARAM_TYPES[self.type]
        coerced = _coerce(self.type, value)
        if coerced is None:
            raise InvalidParameter(
                name, _show(value), f"parameter {name!r} must be {_article(kind)}, not {value!r}"
            )
        if self.choices is not None:
            allowed = [_coerce(self.type, c) for c in self.choices]
            if coerced not in allowed and self.type is str:
                # "BUY" for "buy": text choices match regardless of case and spaces.
                folded = {str(c).casefold(): c for c in allowed}
                coerced = folded.get(coerced.strip().casefold(), coerced)
            if coerced not in allowed:
                raise InvalidParameter(
                    name,
                    _show(value),
                    f"parameter {name!r} must be one of {', '.join(map(str, allowed))}, "
                    f"not {_show(value)!r}",
                    choices=list(allowed),
                )
        if self.min is not None and coerced < _coerce(self.type, self.min):
            raise InvalidParameter(
                name,
                _show(value),
                f"parameter {name!r} must be at least {self.min}, not {_show(value)}",
                min=self.min,
            )
        if self.max is not None and coerced > _coerce(self.type, self.max):
            raise InvalidParameter(
                name,
                _show(value),
                f"parameter {name!r} must be at most {self.max}, not {_show(value)}",
                max=self.max,
            )
        return coerced

    def describe(self, name: str) -> dict[str, Any]:
        """The declaration as JSON-ready data (GET /v1/strategies, `vmx strategy show`)."""
        return {
            "name": name,
            "type": self.type_name,
            "value_type": PARAM_TYPES[self.type],
            "required": self.required,
            "default": None if self.required else self.default,
            "min": self.min,
            "max": self.max,
            "choices": None if self.choices is None else [c for c in self.choices],
            "description": self.description,
        }


class ParamValues(Mapping[str, Any]):
    """A deployment's validated parameters: `values["fast"]` or `values.fast`; read-only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("parameters are read-only")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"ParamValues({self._values!r})"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self._values.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (ParamValues, (self._values,))


def check_declarations(params: object) -> dict[str, Param]:
    """A class's `params` checked: a dict of name -> Param, each declaration sound."""
    if not isinstance(params, dict):
        raise ParamDeclarationError(
            f"params must be a dict of name -> Param, not {type(params).__name__}"
        )
    for name, param in params.items():
        if not isinstance(param, Param):
            raise ParamDeclarationError(
                f"parameter {name!r} must be declared with Param(...), not {param!r}"
            )
        param.check_declaration(name)
    return params


def validate_params(declared: Mapping[str, Param], given: Mapping[str, Any] | None) -> ParamValues:
    """Every declared parameter's value (given or default), or INVALID_PARAMETER naming the
    first unknown, missing or invalid one."""
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise InvalidParameter("params", _show(given), "params must be an object of name: value")
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise InvalidParameter(
                str(name),
                _show(given[name]),
                f"unknown parameter {name!r}; this strategy takes: {known}",
                known=list(declared),
            )
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name in given:
            values[name] = param.validate(name, given[name])
        elif param.required:
            raise InvalidParameter(
                name, None, f"parameter {name!r} is required ({param.description or 'no default'})"
            )
        else:
            values[name] = param.default
    return ParamValues(values)


def _coerce(kind: type, value: Any) -> Any:
    """`value` as `kind` when that is exact, else None."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        return None
    if kind is str:
        if isinstance(value, str) and len(value) <= MAX_STR_LENGTH:
            return value
        return None
    if isinstance(value, bool):
        return None
    if kind is int:
        if isinstance(value, int):
            return value
        number = parse_decimal(value)
        if number is None or number != number.to_integral_value():
            return None
        return int(number)
    if kind is Decimal:
        return parse_decimal(value)
    return None


def _show(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _article(kind: str) -> str:
    return {"int": "a whole number", "decimal": "a number", "str": "a string"}.get(
        kind, "true or false"
    )


__all__ = [
    "REQUIRED",
    "Param",
    "ParamDeclarationError",
    "ParamValues",
    "check_declarations",
    "validate_params",
]
