"""Shell completion of the engine's names: the `autocompletion=` callbacks that command
declarations name (exchanges, symbols, order ids, strategy ids, deployment ids).

Command modules import this one when they load, so it holds entry points only: the work
(asking the engine with a short timeout, the cache, matching) is in completion_answers,
imported on the first TAB. Annotations here are objects, not strings (no `from __future__
import annotations`): Typer reads each callback's signature as it builds a command, and
objects cost it less than strings to evaluate.
"""

from collections.abc import Callable

import typer

Candidates = list[tuple[str, str]]  # (value, help)
Completer = Callable[[typer.Context, str], Candidates]


def _deferred(name: str) -> Completer:
    """The callback that answers with `completion_answers.<name>`, imported on the first TAB."""

    def complete(ctx: typer.Context, incomplete: str) -> Candidates:
        from velocimex_cli.cli import completion_answers

        answer: Completer = getattr(completion_answers, name)
        return answer(ctx, incomplete)

    complete.__name__ = complete.__qualname__ = name
    return complete


exchanges = _deferred("exchanges")  # book/ticker/watch/markets/order place EXCHANGE, -e
symbols = _deferred("symbols")  # of the exchange already typed, else of every one
instruments = _deferred("instruments")  # EXCHANGE:SYMBOL (vmx stream market)
order_ids = _deferred("order_ids")  # recent, newest first (order show, fills --order-id)
open_order_ids = _deferred("open_order_ids")  # orders still open (vmx order cancel)
strategy_ids = _deferred("strategy_ids")  # vmx strategy show|deploy
user_strategy_ids = _deferred("user_strategy_ids")  # added with `strategy add`: removable
strategies_and_files = _deferred("strategies_and_files")  # ids, .py files, dirs (backtest)
deployment_ids = _deferred("deployment_ids")  # vmx strategy status|logs
live_deployment_ids = _deferred("live_deployment_ids")  # running ones (vmx strategy stop)
