"""The one failure type commands raise themselves; light, so every command can import it."""

from __future__ import annotations

from velocimex_cli.wire.errors import ExitCode


class CommandError(Exception):
    """A failure the CLI itself detects (bad combination of flags, declined confirmation)."""

    def __init__(self, message: str, exit_code: int = ExitCode.USAGE, code: str = "USAGE") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
