"""Imported files merged in time order into one recording (docs/api.md, "Recordings"),
streaming: one row per file is held at a time (a heap merge), whatever the files' sizes.

The recording is written to a temporary file beside the target (`.NAME.*.part`) and renamed
to it only when complete: an import that fails or is killed leaves no half recording under the
final name (a killed one may leave its `.part` file). An existing target is replaced only when
asked (`replace=True`); otherwise the rename refuses it even if it appeared meanwhile.

The header is written first with room to spare and rewritten in place at the end with the
instruments and channels the files turned out to hold (readers ignore trailing spaces), and
the terms given for an instrument the catalogue lacks (terms.py: without them such an import
is refused, before the files are read when their names say the instrument).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import tempfile
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from velocimex_cli.engine.backtest.imports.fields import ImportProblem
from velocimex_cli.engine.backtest.imports.reader import BatchReader as Reader
from velocimex_cli.engine.backtest.imports.terms import GivenTerms, header_terms
from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.errors import InvalidParameter
from velocimex_cli.wire.recording_format import FORMAT, MAX_T_NS, VERSION
from velocimex_cli.wire.recording_terms import TERMS
from velocimex_cli.wire.timefmt import iso_from_micros

HEADER_ROOM = 8192  # bytes the first line may grow to when it is rewritten
PROGRESS_EVERY = 1 << 16  # rows between two calls of `progress`


@dataclass
class Summary:
    """What an import wrote."""

    output: str
    messages: int = 0
    rows: int = 0
    skipped: int = 0
    files: int = 0
    instruments: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    first: str | None = None
    last: str | None = None


Batch = tuple[list[int], list[str]]


class _Stream:
    """One file's batches, with a cursor in the current one."""

    __slots__ = ("batches", "index", "texts", "times", "where")

    def __init__(self, index: int, batches: Iterator[Batch]) -> None:
        self.index = index
        self.batches = batches
        self.times: list[int] = []
        self.texts: list[str] = []
        self.where = 0

    def fill(self) -> bool:
        """At least one message ahead (False at the end of the file)."""
        while self.where >= len(self.times):
            batch = next(self.batches, None)
            if batch is None:
                return False
            self.times, self.texts = batch
            self.where = 0
        return True

    @property
    def head(self) -> tuple[int, int]:
        return self.times[self.where], self.index


def _merged(readers: Sequence[Reader]) -> tuple[int | None, Iterator[Batch]]:
    """The earliest time of all files, and their messages in time order as runs of
    consecutive messages of one file: a file's own order is kept, and files tie in the
    order given. Files that do not overlap in time (daily files) pass whole batches; where
    they overlap, the runs get shorter (down to one message)."""
    firsts = [reader.first_time() for reader in readers]
    known = [first for first in firsts if first is not None]
    if not known:
        return None, iter(())
    earliest = min(known)
    streams = [_Stream(i, reader.batches(earliest)) for i, reader in enumerate(readers)]
    streams = [stream for stream in streams if stream.fill()]
    if len(streams) == 1:
        only = streams[0]
        return earliest, itertools.chain(((only.times, only.texts),), only.batches)
    return earliest, _runs(streams)


def _runs(streams: list[_Stream]) -> Iterator[Batch]:
    heap = [(stream.head, stream) for stream in streams]
    heapq.heapify(heap)
    while heap:
        _, stream = heapq.heappop(heap)
        start = stream.where
        times = stream.times
        if heap:
            (limit, other), _ = heap[0]
            # up to the next file's first message, and past messages of the same time when
            # this file comes first
            end = (bisect_right if stream.index < other else bisect_left)(times, limit, start)
            end = max(end, start + 1)
        else:
            end = len(times)
        yield times[start:end], stream.texts[start:end]
        stream.where = end
        if stream.fill():
            heapq.heappush(heap, (stream.head, stream))


def write_recording(
    readers: Sequence[Reader],
    output: Path,
    *,
    replace: bool = False,
    source: str = "",
    progress: Callable[[int, int], None] | None = None,
    terms: GivenTerms | None = None,
) -> Summary:
    """Merge `readers` into a recording at `output`; `progress(rows, bytes read)` is told
    every PROGRESS_EVERY messages; `terms` are the instrument's tick and lot when given.
    ImportProblem names the file, line and column of a bad row; nothing is left under
    `output` then."""
    if output.exists() and not replace:
        raise InvalidParameter(
            "output",
            str(output),
            f"{output} exists: give --force to replace it, or another -o",
        )
    directory = output.parent if str(output.parent) else Path(".")
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
            "w", encoding="utf-8", dir=directory, prefix=f".{output.name}.", suffix=".part",
            delete=False, newline="\n",
        )  # fmt: skip
    except OSError as exc:
        raise InvalidParameter(
            "output", str(output), f"cannot write in {directory}: {exc.strerror}"
        ) from None
    temporary = Path(handle.name)
    done = False
    try:
        # a recording as `open(path, "w")` makes it (the temporary file is private)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(handle.fileno(), 0o666 & ~mask)
        with handle:
            summary = _write(handle, readers, output, source, progress, terms)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temporary, output, replace)
        done = True
        return summary
    except OSError as exc:
        raise InvalidParameter(
            "output", str(output), f"cannot write {output}: {exc.strerror or exc}"
        ) from None
    finally:
        for reader in readers:
            reader.close()
        if not done:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _header(started: int | None, instruments: list[str] | None, channels: list[str] | None,
            source: str, terms: dict[str, Any] | None = None) -> dict[str, object]:  # fmt: skip
    from velocimex_cli import __version__

    header: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "vmx_version": __version__,
        "started_at": iso_from_micros(started or 0),
        "stream": "market",
        "instruments": instruments,
        "channels": channels,
        "api_url": None,
        "imported_from": source,
    }
    if terms:
        header[TERMS] = terms
    return header


def _write(
    out: IO[str],
    readers: Sequence[Reader],
    output: Path,
    source: str,
    progress: Callable[[int, int], None] | None,
    given: GivenTerms | None,
) -> Summary:
    names = ", ".join(r.name for r in readers)
    # the instruments the files' names say: refused at once when their terms are unknown
    header_terms(dict.fromkeys(i for r in readers for i in r.instruments), given, names)
    started, messages = _merged(readers)
    if started is None:
        raise ImportProblem(names, 0, "no rows to import (only a header, or empty)")
    first_line = jsonfmt.dumps(_header(started, None, None, source))
    out.write(first_line.ljust(HEADER_ROOM) + "\n")
    write = out.write
    count = 0
    last = started
    next_report = PROGRESS_EVERY
    for times, texts in messages:
        write("".join(texts))
        if times:
            last = times[-1]
        count += len(times)
        if progress is not None and count >= next_report:
            next_report = count + PROGRESS_EVERY
            progress(count, sum(r.position() for r in readers))
    if (last - started) * 1000 > MAX_T_NS:
        raise InvalidParameter(
            "file",
            ", ".join(r.name for r in readers),
            f"the files span {iso_from_micros(started)} to {iso_from_micros(last)}: more than "
            "the ten years a recording may hold; import fewer files at a time",
        )
    instruments = list(dict.fromkeys(i for r in readers for i in r.instruments))
    channels = list(dict.fromkeys(c for r in readers for c in r.channels))
    terms = header_terms(instruments, given, names)
    header = jsonfmt.dumps(_header(started, instruments, channels, source, terms))
    if len(header) > HEADER_ROOM and terms:  # (one instrument's terms: never in practice)
        raise ImportProblem(names, 0, f"the header with its terms is over {HEADER_ROOM} bytes")
    if len(header) > HEADER_ROOM:  # too many instruments to list: readers then look at rows
        header = first_line
    out.seek(0)
    out.write(header.ljust(HEADER_ROOM))
    if progress is not None:
        progress(count, sum(r.position() for r in readers))
    return Summary(
        output=str(output),
        messages=count,
        rows=sum(r.rows for r in readers),
        skipped=sum(r.skipped for r in readers),
        files=len(readers),
        instruments=instruments,
        channels=channels,
        first=iso_from_micros(started),
        last=iso_from_micros(last),
    )


def _publish(temporary: Path, output: Path, replace: bool) -> None:
    """The finished file under its name: atomically, and never over a file that appeared
    meanwhile unless replacing was asked for."""
    if replace:
        os.replace(temporary, output)
        return
    try:
        os.link(temporary, output)
    except FileExistsError:
        raise InvalidParameter(
            "output", str(output), f"{output} exists: give --force to replace it, or another -o"
        ) from None
    except OSError:  # a file system without hard links: check, then rename
        if output.exists():
            raise InvalidParameter(
                "output", str(output), f"{output} exists: give --force to replace it"
            ) from None
        os.replace(temporary, output)
        return
    temporary.unlink()
