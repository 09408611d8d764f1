"""The recording format's identity, shared by its writer (client) and its readers (replay,
backtests): docs/api.md, "Recordings".

Line 1 is a header object with "format": FORMAT and "version": VERSION; every other line is
{"t": receive time in ns since the header's started_at, "msg": the message as received}.
"""

from __future__ import annotations

FORMAT = "vmx-recording"
VERSION = 1

__all__ = ["FORMAT", "VERSION"]
