"""Saying that a list was cut at its limit: "100 of 114 shown; use --limit".

Every list command whose answer can be cut (a limit, a depth) reports it on stderr through
these, so the data on stdout stays clean and the person still learns there is more.
"""

from __future__ import annotations

from velocimex_cli.output.iostreams import IOStreams


def cut_notice(shown: int, total: int | None, flag: str = "--limit", noun: str = "") -> str | None:
    """The notice for a list showing `shown` records of `total` (None: unknown, but more
    exist), or None when nothing was left out. `noun` follows the counts ("levels per side")."""
    what = f" {noun}" if noun else ""
    if total is None:
        return f"{shown}{what} shown, more exist; use {flag}"
    if total > shown:
        return f"{shown} of {total}{what} shown; use {flag}"
    return None


def report_cut(
    io: IOStreams, shown: int, total: int | None, flag: str = "--limit", noun: str = ""
) -> None:
    """Write `cut_notice(...)` to stderr when the list was cut."""
    notice = cut_notice(shown, total, flag, noun)
    if notice is not None:
        io.status(notice)
