"""The public `Strategy` base: what a built-in or user strategy subclasses.

A strategy is a class with a few class attributes (`id`, `name`, `description`, `params`) and
event hooks. The engine builds one instance per deployment with a context (`self.ctx`, see
context.py) and the deployment's validated parameters (`self.config`), then calls the hooks:

- on_start(): once, before any other hook (subscribe, set timers, place first orders).
- on_book(book): the top of a subscribed book changed (BookTop).
- on_trade(trade): a public trade printed on a subscribed instrument (TradeTick).
- on_order(order): one of this deployment's orders changed (OrderInfo, `order.event` says how).
- on_fill(fill): one of this deployment's orders filled (FillInfo).
- on_timer(name): a timer set with ctx.set_timer came due on the engine's clock.
- on_stop(): once, when the deployment stops (its open orders are canceled after it).

The same class runs live (in a worker process the node manages, its context a proxy over a
pipe) and in a backtest (in-process, on a simulated clock): a strategy must read time only
from ctx.now(), keep its randomness seeded from its parameters, and do no I/O of its own.
An exception escaping a hook stops the deployment and is reported as its last error.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from velocimex_cli.engine.drivers.strategies.params import (
    Param,
    ParamDeclarationError,
    ParamValues,
    check_declarations,
    validate_params,
)

if TYPE_CHECKING:
    from velocimex_cli.engine.drivers.strategies.context import (
        BookTop,
        FillInfo,
        InstrumentSpec,
        OrderInfo,
        StrategyContext,
        TradeTick,
    )

STRATEGY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
STRATEGY_ID_RULE = "1-48 characters: lower-case letters, digits, - and _, starting alphanumeric"
# hook name -> its parameters after self
HOOKS: dict[str, tuple[str, ...]] = {
    "on_start": (),
    "on_book": ("book",),
    "on_trade": ("trade",),
    "on_order": ("order",),
    "on_fill": ("fill",),
    "on_timer": ("name",),
    "on_stop": (),
}


class Strategy:
    """Subclass this; override the hooks you need (each default does nothing)."""

    id: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, ctx: StrategyContext, config: ParamValues | Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.config = (
            config
            if isinstance(config, ParamValues)
            else validate_params(type(self).params, config)
        )

    # -- hooks (override) ---------------------------------------------------------------
    def on_start(self) -> None:
        """Called once before any other hook."""

    def on_book(self, book: BookTop) -> None:
        """The top of a subscribed book changed."""

    def on_trade(self, trade: TradeTick) -> None:
        """A public trade on a subscribed instrument."""

    def on_order(self, order: OrderInfo) -> None:
        """One of this deployment's orders was accepted, filled, canceled or rejected."""

    def on_fill(self, fill: FillInfo) -> None:
        """One of this deployment's orders filled (partly)."""

    def on_timer(self, name: str) -> None:
        """A timer set with ctx.set_timer came due."""

    def on_stop(self) -> None:
        """Called once when the deployment stops; its open orders are canceled after."""

    # -- class-level helpers ------------------------------------------------------------
    @classmethod
    def validate(cls, params: Mapping[str, Any] | None) -> ParamValues:
        """The deployment's parameters checked against `params` (INVALID_PARAMETER naming
        the first bad one)."""
        return validate_params(cls.params, params)

    @classmethod
    def check(cls, config: ParamValues, instrument: InstrumentSpec) -> None:
        """Checks that need the deployed instrument or several parameters at once (a
        quantity below the instrument's minimum, fast >= slow): raise InvalidParameter
        naming the parameter. Runs at deploy time, before the strategy is built."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The strategy as GET /v1/strategies lists it."""
        return {
            "strategy_id": cls.id,
            "name": cls.name or cls.id,
            "description": cls.description,
            "params": [param.describe(name) for name, param in cls.params.items()],
        }


class StrategyDefinitionError(ValueError):
    """A Strategy subclass that cannot be deployed (wrong id, params or hook signatures)."""


def check_strategy_class(cls: object) -> type[Strategy]:
    """`cls` checked as a deployable strategy; StrategyDefinitionError says what is wrong."""
    if not isinstance(cls, type) or not issubclass(cls, Strategy) or cls is Strategy:
        raise StrategyDefinitionError(f"{cls!r} is not a subclass of Strategy")
    label = cls.__name__
    if not cls.id:
        suggested = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "my-strategy"
        raise StrategyDefinitionError(
            f"{label} has no id: give the class one, e.g. id = {suggested!r}"
            f" ({STRATEGY_ID_RULE}); it is how `vmx strategy deploy` names it"
        )
    if not isinstance(cls.id, str) or not STRATEGY_ID.match(cls.id):
        raise StrategyDefinitionError(f"{label}.id must be {STRATEGY_ID_RULE} (got {cls.id!r})")
    for attribute in ("name", "description"):
        if not isinstance(getattr(cls, attribute), str):
            raise StrategyDefinitionError(f"{label}.{attribute} must be a string")
    try:
        check_declarations(cls.params)
    except ParamDeclarationError as exc:
        raise StrategyDefinitionError(f"{label}.params: {exc}") from None
    for hook, expected in HOOKS.items():
        method = getattr(cls, hook, None)
        if not callable(method):
            raise StrategyDefinitionError(f"{label}.{hook} must be a method")
        if getattr(Strategy, hook) is method:
            continue
        if inspect.iscoroutinefunction(method):
            raise StrategyDefinitionError(f"{label}.{hook} must be a plain def, not async")
        try:
            inspect.signature(method).bind(None, *expected)
        except TypeError:
            wanted = ", ".join(("self", *expected))
            raise StrategyDefinitionError(f"{label}.{hook} must take ({wanted})") from None
        except ValueError:
            continue  # no signature available (a builtin): let it be
    init = cls.__init__
    if init is not Strategy.__init__:
        try:
            inspect.signature(init).bind(None, None, None)
        except TypeError:
            raise StrategyDefinitionError(
                f"{label}.__init__ must accept (self, ctx, config) and call "
                "super().__init__(ctx, config); prefer on_start for set-up"
            ) from None
    return cls


__all__ = ["HOOKS", "Strategy", "StrategyDefinitionError", "check_strategy_class"]
