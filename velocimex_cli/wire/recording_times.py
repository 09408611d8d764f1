"""What a reader of a recording says about a line's "t" out of bounds (wire/recording_format's
MAX_T_NS, never decreasing), and how long a book_status reason may be: one wording for the
replay (client/recording.py) and the backtest's reader (engine/backtest/recording_lines.py)."""

from __future__ import annotations

from velocimex_cli.wire.recording_format import MAX_T_NS

MAX_REASON = 1000  # characters of a book_status reason (it is quoted in rejections)


def time_goes_back(t: int, last: int) -> str:
    """The problem with a "t" before the line above's."""
    return (
        f'"t" goes back in time ({t} < {last}): a recording never does (vmx writes receive '
        "times that never decrease); was the file edited or joined?"
    )


def time_too_far(t: int) -> str:
    """The problem with a "t" past MAX_T_NS."""
    return (
        f'"t" {t} is more than ten years ({MAX_T_NS} ns) after the header\'s started_at: not a '
        "receive time"
    )
