"""A data file opened as published (plain text, gzip, or a zip holding one CSV) and read in
chunks of whole lines, in constant memory.

The kind of file is told by its first bytes, not its name: a gzip member starts with 1f 8b, a
zip archive with "PK\\x03\\x04". A line is held to the recording format's bound
(MAX_LINE_BYTES): a file of one endless line is refused after its first MiB. The text must be
UTF-8 (ASCII, in practice); a bad byte is named by its line and column.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from velocimex_cli.engine.backtest.imports.fields import ImportProblem
from velocimex_cli.wire.recording_format import MAX_LINE_BYTES

CHUNK_BYTES = 1 << 18  # read this much at a time: a few thousand rows
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class Source:
    """One input file: `name` (as the user gave it), `size` (bytes on disk), `position()`
    (bytes of it read so far, for a progress bar) and `chunks()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        try:
            self._raw: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise ImportProblem(self.name, 0, f"cannot read it: {exc.strerror}") from None
        try:
            self.size = path.stat().st_size
            self._stream = self._open(self._raw.read(4))
        except BaseException:
            self._raw.close()
            raise
        self.member = getattr(self, "member", "")

    def _open(self, magic: bytes) -> IO[bytes] | gzip.GzipFile:
        self._raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            return gzip.GzipFile(fileobj=self._raw, mode="rb")
        if magic == _ZIP_MAGIC:
            try:
                archive = zipfile.ZipFile(self._raw)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ImportProblem(self.name, 0, f"not a readable zip archive ({exc})") from None
            members = [i for i in archive.infolist() if not i.is_dir()]
            if len(members) != 1:
                listed = ", ".join(i.filename for i in members[:5]) or "nothing"
                raise ImportProblem(
                    self.name,
                    0,
                    f"the zip archive holds {len(members)} files ({listed}); expected exactly "
                    "one CSV, as the publisher's archives do: unzip it and import the CSV",
                )
            self.member = members[0].filename
            return archive.open(members[0])
        return self._raw

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.size

    def chunks(self) -> Iterator[tuple[int, str]]:
        """(the number of the first line, the text) of consecutive runs of whole lines, joined
        by "\\n" without the last one's newline (a line may end in a carriage return)."""
        line = 1
        left = b""
        read = self._stream.read
        while True:
            try:
                block = read(CHUNK_BYTES)
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
                raise ImportProblem(
                    self.name, line, f"the file cannot be read past here ({exc})"
                ) from None
            if not block:
                if left:
                    yield line, self._text(left, line)
                return
            end = block.rfind(b"\n")
            if end < 0:
                left += block
                if len(left) > MAX_LINE_BYTES:
                    raise self._too_long(line)
                continue
            whole = left + block[:end] if left else block[:end]
            left = block[end + 1 :]
            if len(left) > MAX_LINE_BYTES:
                raise self._too_long(line + whole.count(b"\n") + 1)
            if len(whole) > MAX_LINE_BYTES:
                for number, raw in enumerate(whole.split(b"\n")):
                    if len(raw) > MAX_LINE_BYTES:
                        raise self._too_long(line + number)
            yield line, self._text(whole, line)
            line += whole.count(b"\n") + 1

    def _too_long(self, line: int) -> ImportProblem:
        return ImportProblem(
            self.name,
            line,
            f"the line is longer than {MAX_LINE_BYTES} bytes (1 MiB): not a row of market data",
        )

    def _text(self, raw: bytes, first_line: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = raw.rfind(b"\n", 0, exc.start)
            raise ImportProblem(
                self.name,
                first_line + raw.count(b"\n", 0, exc.start),
                f"byte 0x{raw[exc.start]:02x} is not UTF-8 text (the file must be UTF-8)",
                exc.start - before,
            ) from None

    def close(self) -> None:
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.close()
