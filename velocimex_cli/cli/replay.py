"""`vmx replay FILE [--speed X|max]`: play a recording made with `--record`.

Off a terminal it prints the recorded data messages as NDJSON, exactly the lines `vmx stream`
printed live; at `--speed max` the output is byte-identical on every run (no clock is read).
On a terminal it plays the recording into the ladder view (replay_screen.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from velocimex_cli.cli.command_error import CommandError
from velocimex_cli.cli.execution import execute
from velocimex_cli.cli.options import JsonFlag, OutputOption, sub_app

if TYPE_CHECKING:
    from velocimex_cli.cli.factory import Factory
    from velocimex_cli.client.recording import Recording


@dataclass
class ReplayOptions:
    path: str
    speed: str  # a factor, or "max": as fast as possible
    count: int | None
    ndjson: bool = False  # asked for explicitly: no ladder even on a terminal


def parse_speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    from velocimex_cli.cli.coercion import plain_float

    value = plain_float(text)  # float() would take "1_0" and non-ASCII digits
    if value is None or not value > 0:
        raise CommandError(
            f"--speed must be a number above 0 (2 = twice as fast) or max, not {text!r}"
        )
    return value


def run_replay(factory: Factory, opts: ReplayOptions) -> int:
    from velocimex_cli.client.recording import Recording, RecordingError

    speed = parse_speed(opts.speed)
    if opts.count is not None and opts.count < 1:
        raise CommandError(f"--count must be at least 1, not {opts.count}")
    try:
        recording = Recording(opts.path)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    with recording:
        if factory.io.is_stdout_tty and not opts.ndjson:
            from velocimex_cli.cli.replay_screen import replay_on_terminal

            return replay_on_terminal(factory, recording, speed)
        try:
            return _print(factory, recording, speed, opts.count)
        except RecordingError as exc:
            raise CommandError(str(exc)) from None


def _print(factory: Factory, recording: Recording, speed: float | None, count: int | None) -> int:
    from velocimex_cli.cli.stream import DATA_TYPES, NdjsonOut

    out = NdjsonOut(factory.io.stdout, count)
    if speed is None:
        for _, message in recording.entries():
            if message["type"] in DATA_TYPES and not out.write(message):
                break
        return 0
    import asyncio

    from velocimex_cli.client.recording import replay

    async def paced() -> None:
        async for message in replay(recording, speed):
            if message["type"] in DATA_TYPES:
                del message["received_at"]
                if not out.write(message):
                    return

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops a replay
        asyncio.run(paced())
    return 0


app = sub_app("Play back a recording made with --record.", no_args_is_help=True)


# The command, the only one of its app (the root loads it lazily).
@app.command("replay")
def replay_command(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="A recording (vmx stream ... --record FILE).")],
    speed: Annotated[
        str,
        typer.Option("--speed", help="Playback speed: 1 as recorded, 10 ten times faster, max."),
    ] = "1",
    count: Annotated[
        int | None, typer.Option("--count", "-n", help="Stop after N messages.")
    ] = None,
    json: JsonFlag = False,
    output: OutputOption = None,
) -> None:
    """Play a recording: NDJSON off a terminal (and with --json), the ladder on one."""
    from velocimex_cli.cli.stream import stream_output

    fmt = stream_output(json, output)
    explicit = json or output is not None
    opts = ReplayOptions(path=path, speed=speed, count=count, ndjson=explicit)
    execute(ctx, run_replay, opts, output=fmt if explicit else None)
