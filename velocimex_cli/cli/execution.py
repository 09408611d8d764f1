"""Running a command's work function: one place for error reporting and exit codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory

from velocimex_cli.wire.errors import ExitCode

T = TypeVar("T")


def factory_of(ctx: typer.Context) -> Factory:
    from velocimex_cli.cli.factory import Factory

    root = ctx.find_root()
    if not isinstance(root.obj, Factory):
        root.obj = Factory()
    return root.obj


def execute(
    ctx: typer.Context,
    work: Callable[[Factory, T], int | None],
    options: T,
    *,
    output: str | None = None,
) -> None:
    """Run `work(factory, options)`; report any failure on stderr and exit with its code.

    With json/ndjson output, a failure is written to stderr as the API's error JSON.
    """
    from velocimex_cli.wire.errors import AuthenticationError, PermissionDenied

    factory = factory_of(ctx)
    try:
        try:
            code = work(factory, options)
        except AuthenticationError:
            # The embedded engine's database may have been reset since the local key was
            # provisioned: provision a fresh key once and try again (nothing was done).
            # Only the local key the client used: a key being checked (`auth login`) or any
            # other profile's key is never replaced.
            if not factory.local_key_in_use:
                raise
            refused = factory.profile()
            factory.reset_client()
            factory.provision_local_key(replacing=refused)
            code = work(factory, options)
        except PermissionDenied as exc:
            # A local key provisioned by an older vmx lacks a permission the local profile's
            # key has now (`strategies`): replace it once and try again (nothing was done).
            if not factory.local_key_predates(exc.details.get("permission")):
                raise
            refused = factory.profile()
            factory.reset_client()
            factory.provision_local_key(replacing=refused)
            code = work(factory, options)
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        factory.io.status("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except Exception as exc:  # every failure becomes a message and an exit code
        from velocimex_cli.cli.failures import exit_code_of

        fmt = output or _configured_output(factory)
        report(factory, exc, json_errors=fmt in ("json", "ndjson"))
        raise typer.Exit(exit_code_of(exc)) from None
    finally:
        factory.close()
    if code:
        raise typer.Exit(code)


def _configured_output(factory: Factory) -> str:
    try:
        return factory.settings.get("output")
    except Exception:
        return "table"


def report(factory: Factory, exc: BaseException, *, json_errors: bool) -> None:
    from velocimex_cli.cli.failures import error_body, exit_code_of, human_message

    if json_errors:
        from velocimex_cli.wire import jsonfmt

        factory.io.status(jsonfmt.dumps(error_body(exc)))
    else:
        factory.io.status(human_message(exc))
    if factory.verbose and exit_code_of(exc) == ExitCode.UNEXPECTED:
        import traceback

        factory.io.status("".join(traceback.format_exception(exc)))
