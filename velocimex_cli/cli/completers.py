"""Shell completion of the engine's names: the `autocompletion=` callbacks that command
declarations name (exchanges, symbols, order ids, strategy ids, deployment ids).

Command modules import this one when they load, so it holds entry points only: the work
(asking the engine with a short timeout, the cache, matching) is in completion_answers,
imported on the first TAB. Annotations here are objects, not strings (no `from __future__
import annotations`): Typer reads each callback's signature as it builds a command, and
objects cost it less than strings to evaluate.
"""

import typer

Candidates = list[tuple[str, str]]  # (value, help)


def exchanges(ctx: typer.Context, incomplete: str) -> Candidates:
    """Exchange names (book/ticker/watch/markets/order place EXCHANGE, --exchange/-e)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.exchanges(ctx, incomplete)


def symbols(ctx: typer.Context, incomplete: str) -> Candidates:
    """Symbols of the exchange already typed (its `exchange` parameter), else of every one."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.symbols(ctx, incomplete)


def instruments(ctx: typer.Context, incomplete: str) -> Candidates:
    """EXCHANGE:SYMBOL (vmx stream market)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.instruments(ctx, incomplete)


def order_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Recent order ids, newest first (vmx order show, order fills --order-id)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.order_ids(ctx, incomplete)


def open_order_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of orders still open (vmx order cancel)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.open_order_ids(ctx, incomplete)


def strategy_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Strategy ids (vmx strategy show|deploy)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.strategy_ids(ctx, incomplete)


def user_strategy_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of strategies added with `vmx strategy add`: the removable ones."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.user_strategy_ids(ctx, incomplete)


def strategies_and_files(ctx: typer.Context, incomplete: str) -> Candidates:
    """Strategy ids, .py files and directories (vmx backtest)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.strategies_and_files(ctx, incomplete)


def deployment_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Deployment ids (vmx strategy status|logs)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.deployment_ids(ctx, incomplete)


def live_deployment_ids(ctx: typer.Context, incomplete: str) -> Candidates:
    """Ids of running deployments, the ones to stop (vmx strategy stop)."""
    from velocimex_cli.cli import completion_answers

    return completion_answers.live_deployment_ids(ctx, incomplete)
