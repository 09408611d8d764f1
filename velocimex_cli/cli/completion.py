"""`vmx completion bash|zsh|fish`: the shell completion script (also committed in completions/)."""

from __future__ import annotations

from typing import Annotated

import typer

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_VMX_COMPLETE"


def script(shell: str) -> str:
    from typer.completion import get_completion_script

    return get_completion_script(prog_name="vmx", complete_var=COMPLETE_VAR, shell=shell) + "\n"


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


# The only command of its app (the root loads it lazily).
@app.command("completion")
def completion_command(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the completion script, e.g. `vmx completion bash > ~/.vmx-completion.bash`."""
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}")
    typer.echo(script(shell), nl=False)
