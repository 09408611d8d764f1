"""One object that decides TTY behaviour, colour and prompting (after gh's iostreams).

Data goes to stdout; everything meant for the person (status, confirmations, errors) to
stderr. Colour only when stdout is a terminal, unless NO_COLOR (wins) or FORCE_COLOR say
otherwise. Prompts only when stdin and stderr are terminals.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null so exiting does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def decide_color(
    stdout_tty: bool, mode: str = "auto", env: Mapping[str, str] | None = None
) -> bool:
    env = os.environ if env is None else env
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if mode == "always":
        return True
    if mode == "never":
        return False
    return stdout_tty and env.get("TERM") != "dumb"


@dataclass
class IOStreams:
    """Streams default to the current sys.std* (looked up at use, so test runners can swap them).

    `stdout_tty` / `stdin_tty` / `stderr_tty` override TTY detection (None: detect).
    """

    out: TextIO | None = None
    err: TextIO | None = None
    inp: TextIO | None = None
    stdout_tty: bool | None = None
    stderr_tty: bool | None = None
    stdin_tty: bool | None = None
    color_mode: str = "auto"
    env: Mapping[str, str] | None = None
    # Where the mode comes from when no --color was given (the `color` setting), asked only
    # when colour is decided, so a bad setting fails the command that would have used it.
    color_setting: Callable[[], str] | None = None

    @property
    def effective_color_mode(self) -> str:
        return self.color_setting() if self.color_setting is not None else self.color_mode

    @property
    def stdout(self) -> TextIO:
        return self.out or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self.err or sys.stderr

    @property
    def stdin(self) -> TextIO:
        return self.inp or sys.stdin

    @property
    def is_stdout_tty(self) -> bool:
        return _isatty(self.stdout) if self.stdout_tty is None else self.stdout_tty

    @property
    def is_stderr_tty(self) -> bool:
        return _isatty(self.stderr) if self.stderr_tty is None else self.stderr_tty

    @property
    def is_stdin_tty(self) -> bool:
        return _isatty(self.stdin) if self.stdin_tty is None else self.stdin_tty

    @property
    def color(self) -> bool:
        return decide_color(self.is_stdout_tty, self.effective_color_mode, self.env)

    @property
    def color_stderr(self) -> bool:
        return decide_color(self.is_stderr_tty, self.effective_color_mode, self.env)

    @property
    def can_prompt(self) -> bool:
        return self.is_stdin_tty and self.is_stderr_tty

    def write(self, text: str) -> None:
        """Data, to stdout."""
        self.stdout.write(text)
        self.stdout.flush()

    def status(self, text: str) -> None:
        """A message for the person, to stderr."""
        self.stderr.write(text.rstrip("\n") + "\n")
        self.stderr.flush()

    def prompt_yes_no(self, question: str) -> bool:
        self.stderr.write(f"{question} [y/N]: ")
        self.stderr.flush()
        answer = self.stdin.readline()
        return answer.strip().lower() in ("y", "yes")

    def prompt_secret(self, question: str) -> str:
        import getpass

        return getpass.getpass(question, stream=self.stderr)

    def console(self, *, stderr: bool = False) -> Console:
        from rich.console import Console

        tty = self.is_stderr_tty if stderr else self.is_stdout_tty
        color = self.color_stderr if stderr else self.color
        # Off a terminal nothing is cut to fit: the table is as wide as its contents.
        width = None if tty else 10_000
        return Console(
            file=self.stderr if stderr else self.stdout,
            force_terminal=color,
            no_color=not color,
            color_system="auto" if color else None,
            highlight=False,
            emoji=False,
            width=width,
            soft_wrap=False,
        )
