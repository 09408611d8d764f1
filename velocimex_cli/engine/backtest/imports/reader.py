"""What every format's reader is to the writer: a file's messages in batches, each message a
whole recording line, timed relative to the recording's start.

The start is the earliest time of all files, known only once each file's first rows are read:
`first_time()` reads them (and keeps them), then `batches(origin)` formats every line with its
`"t"` at once (one formatting pass per row: that is most of an import's time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from velocimex_cli.engine.backtest.imports.sources import Source

# (times in µs since the epoch, parsed rows or message texts: whatever `_format` takes)
Parsed = tuple[list[int], list[Any]]


class BatchReader:
    """A data file read a chunk at a time. Subclasses give `_parsed()` and `_format()`."""

    channels: tuple[str, ...] = ()

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.size = source.size
        self.instruments: dict[str, None] = {}
        self.rows = 0
        self.skipped = 0
        self._pending: Parsed | None = None
        self._rest: Iterator[Parsed] = iter(())

    def _parsed(self) -> Iterator[Parsed]:
        raise NotImplementedError

    def _format(self, times: list[int], items: list[Any], origin: int) -> list[str]:
        """The recording's lines of a batch: {"t": ns since origin, "msg": ...}."""
        return [
            f'{{"t":{(micros - origin) * 1000},"msg":{text}}}\n'
            for micros, text in zip(times, items, strict=True)
        ]

    def first_time(self) -> int | None:
        """The time of the file's first message (None when it has none)."""
        self._rest = self._parsed()
        for batch in self._rest:
            if batch[0]:
                self._pending = batch
                return batch[0][0]
        return None

    def batches(self, origin: int) -> Iterator[tuple[list[int], list[str]]]:
        if self._pending is not None:
            times, items = self._pending
            self._pending = None
            yield times, self._format(times, items, origin)
        for times, items in self._rest:
            if times:
                yield times, self._format(times, items, origin)

    def position(self) -> int:
        return self.source.position()

    def close(self) -> None:
        self.source.close()
