"""Durations typed on the command line: `90d`, `12h`, `30m`, `45s` (whole numbers, one unit)."""

from __future__ import annotations

import re

from velocimex_cli.cli.command_error import CommandError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,12})([smhd]?)")


def parse_duration(
    text: str, option: str, *, maximum: int, bare_seconds: bool, minimum: int = 0
) -> int:
    """`text` in seconds, or a CommandError naming `option`, what is wrong and an example.

    `bare_seconds`: a number without a unit counts as seconds (else it is refused: `90` for an
    expiry is too easily meant as days).
    """
    shown = text.strip()
    match = _DURATION.fullmatch(shown.lower())
    example = "e.g. 90d, 12h, 30m or 45s"
    if match is None:
        raise CommandError(
            f"{option} {text!r} is not a duration: give a whole number and a unit"
            f" (s, m, h or d), {example}"
        )
    number, unit = int(match.group(1)), match.group(2)
    if not unit:
        if not bare_seconds:
            raise CommandError(f"{option} {text!r} has no unit: say what it counts, {example}")
        unit = "s"
    seconds = number * UNITS[unit]
    if seconds < minimum:
        raise CommandError(f"{option} {text!r} is too short: at least {minimum}s")
    if seconds > maximum:
        raise CommandError(
            f"{option} {text!r} is too long: at most {maximum // 86400}d ({maximum} seconds)"
        )
    return seconds
