"""Recordings of streams: NDJSON, versioned, complete; written by `--record`, read by replay.

Format version 1 (docs/api.md, "Recordings"). The first line is the header:

    {"format": "vmx-recording", "version": 1, "vmx_version": "0.4.0",
     "started_at": "2026-11-24T15:00:00.123456Z", "stream": "market",
     "instruments": ["BINANCE:BTC/USDT"] | null, "channels": ["book", "trades"] | null,
     "api_url": "http://127.0.0.1:7878",
     "terms": {"BINANCE:BTC/USDT": {"base": "BTC", "quote": "USDT", "tick_size": 0.01,
                                    "lot_size": 0.00001, "min_quantity": 0.0001}}}

`terms` (an extension of version 1, present only when known: wire/recording_terms.py) are the
recorded instruments' terms as the engine listed them (`GET /v1/markets`), so a backtest
replays the market on them, however the engine's built-in catalogue lists it.

Every following line is one message as it was received, in order:

    {"t": 1234567, "msg": {...the message exactly as the server sent it...}}

`t` is the receive time in nanoseconds since `started_at` (monotonic, never decreasing), so
`started_at + t` is the wall-clock receive time. Messages are every server message (tickers,
book snapshots and deltas with checksums, trades, orders, fills, subscribed, errors) and the
client's own `connection` messages (so a gap in the data is visible as a reconnect). Numbers
keep their exact wire digits. Readers must ignore header keys they do not know; a new version
number means an incompatible change.

The reader holds a file to the format's bounds (wire/recording_format.py): a line of at most
1 MiB, read without ever holding more; UTF-8 checked line by line; "t" never decreasing and at
most about ten years; every number finite and within 1e+-30. A replay at a finite speed waits
at most MAX_REPLAY_WAIT_NS between two messages: a longer silence in the recording is an error
that names its line and the speed that would play it (or --speed max).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.recording_format import (
    FORMAT,
    MAX_T_NS,
    VERSION,
    CheckedJson,
    LineProblem,
    line_text,
    read_line,
)
from velocimex_cli.wire.recording_terms import TERMS, TermsProblem, read_terms
from velocimex_cli.wire.recording_times import time_goes_back, time_too_far
from velocimex_cli.wire.timefmt import iso

FLUSH_EVERY_NS = 200_000_000  # buffered, flushed at least every 0.2 s and on close
# Rare messages that say what the stream is doing are on disk at once.
FLUSH_AT_ONCE = frozenset({"connection", "subscribed", "unsubscribed", "authenticated", "error"})
# At a finite --speed, the longest a replay waits for the next message (real time): a longer
# silence in the recording asks for a faster speed instead of sleeping for hours or years.
MAX_REPLAY_WAIT_NS = 3600 * 1_000_000_000


class RecordingError(Exception):
    """A recording that cannot be read: says which line (and column) and what is wrong."""

    def __init__(self, path: str, line: int, problem: str, column: int = 0) -> None:
        where = f"{path} line {line}" if line else path
        if line and column:
            where += f" column {column}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


def header(
    stream: str,
    instruments: Sequence[str] | None,
    channels: Sequence[str] | None,
    api_url: str | None,
    started_at: datetime,
    terms: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    from velocimex_cli import __version__

    written = {
        "format": FORMAT,
        "version": VERSION,
        "vmx_version": __version__,
        "started_at": iso(started_at),
        "stream": stream,
        "instruments": None if instruments is None else list(instruments),
        "channels": None if channels is None else list(channels),
        "api_url": api_url,
    }
    if terms:  # only when known: a header without them reads as it always did
        written[TERMS] = {key: dict(entry) for key, entry in terms.items()}
    return written


class Recorder:
    """Writes a recording. `write(msg)` takes a stream message (its `received_at`, monotonic
    ns, becomes `t`); the header is written when the recorder is opened."""

    def __init__(
        self,
        out: IO[str],
        *,
        stream: str = "market",
        instruments: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        api_url: str | None = None,
        started_at: datetime | None = None,
        started_ns: int | None = None,
        terms: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.out = out
        self.started_ns = time.monotonic_ns() if started_ns is None else started_ns
        moment = datetime.now(UTC) if started_at is None else started_at
        self.header = header(stream, instruments, channels, api_url, moment, terms)
        self._last_t = 0
        self._last_flush = self.started_ns
        self.count = 0
        out.write(jsonfmt.dumps(self.header) + "\n")
        out.flush()

    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> Recorder:
        """A recorder writing to `path` (created or truncated)."""
        try:
            out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(str(path), 0, f"cannot write: {exc.strerror}") from None
        return cls(out, **kwargs)

    def write(self, message: dict[str, Any]) -> None:
        received = message.get("received_at")
        now = received if isinstance(received, int) else time.monotonic_ns()
        t = max(self._last_t, now - self.started_ns)  # never decreasing
        self._last_t = t
        body = {k: v for k, v in message.items() if k != "received_at"}
        self.out.write(jsonfmt.dumps({"t": t, "msg": body}) + "\n")
        self.count += 1
        if now - self._last_flush >= FLUSH_EVERY_NS or body["type"] in FLUSH_AT_ONCE:
            self._last_flush = now
            self.out.flush()

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        if not self.out.closed:
            self.out.flush()
            self.out.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recording:
    """A recording opened for reading: `header`, then `entries()` -> (t_ns, message)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.line = 0  # the line read last
        self._json = CheckedJson()
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(self.path, 0, f"cannot read: {exc.strerror}") from None
        try:
            self.header = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _next_line(self) -> str | None:
        """The next line's text (None at the end of the file), at most MAX_LINE_BYTES of it."""
        try:
            raw = read_line(self._file)
        except OSError as exc:
            raise RecordingError(self.path, self.line + 1, f"cannot read: {exc}") from None
        if not raw:
            return None
        self.line += 1
        try:
            return line_text(raw)
        except LineProblem as exc:
            raise RecordingError(self.path, self.line, exc.problem, exc.column) from None

    def _read_header(self) -> dict[str, Any]:
        first = self._next_line()
        if first is None:
            raise RecordingError(self.path, 1, "empty file: not a vmx recording")
        value = self._parse(first, 1)
        if value.get("format") != FORMAT:
            raise RecordingError(
                self.path, 1, f'the first line is not a vmx recording header ("format": "{FORMAT}")'
            )
        version = value.get("version")
        if version != VERSION:
            raise RecordingError(
                self.path,
                1,
                f"recording format version {version!r} is not supported "
                f"(this vmx reads version {VERSION})",
            )
        try:
            read_terms(value)  # not used by a replay, but held to the bounds all the same
        except TermsProblem as exc:
            raise RecordingError(self.path, 1, f"the header's {exc.problem}") from None
        return value

    def _parse(self, text: str, line: int) -> dict[str, Any]:
        try:
            value = self._json.loads(text)
        except LineProblem as exc:
            raise RecordingError(self.path, line, exc.problem, exc.column) from None
        if not isinstance(value, dict):
            raise RecordingError(self.path, line, "each line must be a JSON object")
        return value

    def entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every recorded message with its receive time; RecordingError on a malformed line.
        `line` is the line of the message yielded last."""
        last = 0
        while (text := self._next_line()) is not None:
            line = self.line
            if not text.strip():
                continue
            entry = self._parse(text, line)
            t, msg = entry.get("t"), entry.get("msg")
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                raise RecordingError(self.path, line, '"t" must be a whole number of ns >= 0')
            if t > MAX_T_NS:
                raise RecordingError(self.path, line, time_too_far(t))
            if t < last:
                raise RecordingError(self.path, line, time_goes_back(t, last))
            if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                raise RecordingError(self.path, line, '"msg" must be an object with a "type"')
            last = t
            yield t, msg

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def replay(recording: Recording, speed: float | None = 1.0) -> AsyncIterator[dict[str, Any]]:
    """The recorded messages as a stream yields them (with a fresh `received_at`), paced at
    `speed` times the recorded rate (None: as fast as possible)."""
    import asyncio

    start = time.monotonic_ns()
    previous = 0
    for t, msg in recording.entries():
        if speed is not None:
            if (t - previous) / speed > MAX_REPLAY_WAIT_NS:
                raise RecordingError(recording.path, recording.line, _silence(t, previous, speed))
            previous = t
            due = start + int(t / speed)
            wait = due - time.monotonic_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
        else:
            await asyncio.sleep(0)
        msg["received_at"] = time.monotonic_ns()
        yield msg


def _silence(t: int, previous: int, speed: float) -> str:
    """What a replay says of a silence longer than it waits."""
    faster = math.ceil((t - previous) / MAX_REPLAY_WAIT_NS)
    return (
        f'{_span(t - previous)} pass before this message ("t" {previous} -> {t}); at '
        f"--speed {speed:g} the replay would wait {_span(int((t - previous) / speed))}, and it "
        f"waits at most {_span(MAX_REPLAY_WAIT_NS)}: replay with --speed {faster} or more, or "
        "--speed max"
    )


def _span(ns: int) -> str:
    """A duration for a person: 3d 4h, 2h 5m, 7m 3s."""
    seconds = ns // 1_000_000_000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s"
