"""Recordings of streams: NDJSON, versioned, complete; written by `--record`, read by replay.

Format version 1 (docs/api.md, "Recordings"). The first line is the header:

    {"format": "vmx-recording", "version": 1, "vmx_version": "0.4.0",
     "started_at": "2026-11-24T15:00:00.123456Z", "stream": "market",
     "instruments": ["BINANCE:BTC/USDT"] | null, "channels": ["book", "trades"] | null,
     "api_url": "http://127.0.0.1:7878"}

Every following line is one message as it was received, in order:

    {"t": 1234567, "msg": {...the message exactly as the server sent it...}}

`t` is the receive time in nanoseconds since `started_at` (monotonic, never decreasing), so
`started_at + t` is the wall-clock receive time. Messages are every server message (tickers,
book snapshots and deltas with checksums, trades, orders, fills, subscribed, errors) and the
client's own `connection` messages (so a gap in the data is visible as a reconnect). Numbers
keep their exact wire digits. Readers must ignore header keys they do not know; a new version
number means an incompatible change.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from velocimex_cli.wire import jsonfmt
from velocimex_cli.wire.recording_format import FORMAT, VERSION
from velocimex_cli.wire.timefmt import iso

FLUSH_EVERY_NS = 200_000_000  # buffered, flushed at least every 0.2 s and on close
# Rare messages that say what the stream is doing are on disk at once.
FLUSH_AT_ONCE = frozenset({"connection", "subscribed", "unsubscribed", "authenticated", "error"})


class RecordingError(Exception):
    """A recording that cannot be read: says which line and what is wrong."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        where = f"{path} line {line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def header(
    stream: str,
    instruments: Sequence[str] | None,
    channels: Sequence[str] | None,
    api_url: str | None,
    started_at: datetime,
) -> dict[str, Any]:
    from velocimex_cli import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "vmx_version": __version__,
        "started_at": iso(started_at),
        "stream": stream,
        "instruments": None if instruments is None else list(instruments),
        "channels": None if channels is None else list(channels),
        "api_url": api_url,
    }


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
    ) -> None:
        self.out = out
        self.started_ns = time.monotonic_ns() if started_ns is None else started_ns
        moment = datetime.now(UTC) if started_at is None else started_at
        self.header = header(stream, instruments, channels, api_url, moment)
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
        try:
            self._file = open(path, encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(self.path, 0, f"cannot read: {exc.strerror}") from None
        self.header = self._read_header()

    def _read_header(self) -> dict[str, Any]:
        try:
            first = self._file.readline()
        except UnicodeDecodeError:
            raise RecordingError(self.path, 1, "not UTF-8 text: not a vmx recording") from None
        if not first:
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
        return value

    def _parse(self, text: str, line: int) -> dict[str, Any]:
        try:
            value = jsonfmt.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RecordingError(self.path, line, f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise RecordingError(self.path, line, "each line must be a JSON object")
        return value

    def entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every recorded message with its receive time; RecordingError on a malformed line."""
        last = 0
        line = 1
        try:
            for text in self._file:
                line += 1
                if not text.strip():
                    continue
                entry = self._parse(text, line)
                t, msg = entry.get("t"), entry.get("msg")
                if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                    raise RecordingError(self.path, line, '"t" must be a whole number of ns >= 0')
                if t < last:
                    raise RecordingError(self.path, line, f'"t" goes back in time ({t} < {last})')
                if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                    raise RecordingError(self.path, line, '"msg" must be an object with a "type"')
                last = t
                yield t, msg
        except UnicodeDecodeError:
            raise RecordingError(self.path, line + 1, "not UTF-8 text") from None

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
    for t, msg in recording.entries():
        if speed is not None:
            due = start + int(t / speed)
            wait = due - time.monotonic_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
        else:
            await asyncio.sleep(0)
        msg["received_at"] = time.monotonic_ns()
        yield msg
