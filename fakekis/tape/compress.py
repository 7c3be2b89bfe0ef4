"""ws.jsonl on disk, plain or compressed, chosen by the file's extension (docs/recordings.md):

  ws.jsonl      plain JSON lines
  ws.jsonl.zst  zstd (the `zstandard` library), written as independent frames of whole lines
  ws.jsonl.gz   gzip, written as independent members of whole lines

Each frame (zstd) or member (gzip) starts at a byte offset where decoding can begin afresh, so an index
(`tape/index.py`) that records those offsets lets a reader start in the middle of a day without reading
what comes before. A file made by another tool (one big frame or member) still reads; it is only not
seekable past its start.

Why zstandard (python-zstandard): it has wheels for every CPython from 3.9 on, streaming objects that report
where a frame ends (`eof`, `unused_data`, which is how frames are found and checked here), and years of
upkeep; the standard library's `compression.zstd` arrives only in 3.14. gzip is the standard library's,
for tapes that must open without extra tools.

Pure: bytes and files in, bytes out; no sockets, no clock.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

WS_NAMES = ("ws.jsonl", "ws.jsonl.zst", "ws.jsonl.gz")
READ_SIZE = 1 << 17  # compressed bytes per read
# Two zstd settings (bench/analysis.md, "compression", has the table they were picked from):
# - ZSTD_LEVEL, for the recorder, which compresses as frames arrive: level 9 keeps up with 5k frames/s
#   with room to spare (~20-30 MB/s under load), at ~16-18% of the JSONL. A level, not parameters, so
#   zstd sizes its tables to the recorder's small frames;
# - ZSTD_STORED, for tapes written at leisure (generate, slice, merge, `tape.write`): level 17's optimal
#   parsing (btultra, min match 4) with a shallow search (search_log 2), ~14-15% at ~3 MB/s under load.
#   The numbers in a tape are near-random digits: the gain is in coding short matches and literals well,
#   which no window, frame size, long-distance matching or dictionary gave (each within 1 point of 9).
# Reading is as fast or faster; any zstd frame reads, whatever wrote it.
ZSTD_LEVEL = 9
ZSTD_STORED = zstandard.ZstdCompressionParameters.from_level(17, search_log=2)


class TapeDamage(Exception):
    """The compressed bytes at `offset` cannot be decoded (`truncated`: the file ends inside a frame)."""

    def __init__(self, offset: int, message: str, truncated: bool = False) -> None:
        self.offset, self.message, self.truncated = offset, message, truncated
        self.path: Path | None = None  # set by the reader: which part of a rotated tape
        self.last = True  # whether that part is the tape's last
        super().__init__(f"byte {offset}: {message}")


def kind_of(path: Path | str) -> str:
    name = str(path)
    return "zst" if name.endswith(".zst") else "gz" if name.endswith(".gz") else "plain"


def find_ws(root: Path) -> list[Path]:
    """The ws files present in a recording folder (a valid recording has exactly one)."""
    return [root / n for n in WS_NAMES if (root / n).is_file()]


def part_name(first: str, n: int) -> str:
    """The name of part `n` (1-based) of a ws file rotated by size: ws.jsonl.zst, ws.2.jsonl.zst, ..."""
    return first if n == 1 else first.replace("ws.", f"ws.{n}.", 1)


def parts_of(first: Path) -> list[Path]:
    """`first` and the parts that follow it (ws.2.jsonl.zst, ws.3.jsonl.zst, ... while they exist)."""
    out = [first]
    while (nxt := first.with_name(part_name(first.name, len(out) + 1))).is_file():
        out.append(nxt)
    return out


def _decoder(kind: str) -> zlib._Decompress | zstandard.ZstdDecompressionObj:
    if kind == "zst":
        return zstandard.ZstdDecompressor().decompressobj()
    return zlib.decompressobj(wbits=31)  # gzip header and trailer


def chunks(path: Path, offset: int = 0, read_size: int = READ_SIZE) -> Iterator[tuple[int, bytes]]:
    """Decoded bytes from byte `offset` on, as (start, data): `start` is the byte offset of the frame/member
    this data opens, or -1 when the data continues one. Raises TapeDamage where the bytes stop making sense."""
    kind = kind_of(path)
    with path.open("rb") as fh:
        fh.seek(offset)
        if kind == "plain":
            pos = offset
            while data := fh.read(read_size):
                yield pos, data
                pos += len(data)
            return
        yield from _members(fh, kind, offset, read_size)


def _members(fh: BinaryIO, kind: str, offset: int, read_size: int = READ_SIZE) -> Iterator[tuple[int, bytes]]:
    dec = _decoder(kind)
    member, pos, fresh = offset, offset, True  # pos: bytes of the file consumed so far
    pending = b""
    while True:
        data = pending or fh.read(read_size)
        pending = b""
        if not data:
            break
        try:
            out = dec.decompress(data)
        except (zstandard.ZstdError, zlib.error) as e:
            raise TapeDamage(member, f"corrupt {kind} data in the frame starting here ({e})") from None
        if out:
            yield (member if fresh else -1), out
            fresh = False
        if dec.eof:
            rest = dec.unused_data
            pos += len(data) - len(rest)
            member, fresh, pending = pos, True, rest
            dec = _decoder(kind)
        else:
            pos += len(data)
    if pos != member:  # bytes were fed to a frame that never ended
        raise TapeDamage(
            member, f"the file ends inside a {kind} frame ({pos - member} bytes of it)", truncated=True
        )


SEEK_MIN_LINES = 256  # a frame start becomes a seek point only this many lines after the last one


class BlockWriter:
    """Writes ws lines; compressed, it ends a frame/member every `block_lines` lines or `block_bytes`
    bytes and at each `flush`, each one decodable on its own. `blocks` lists the seek points, (byte offset,
    first line number, first t): every `block_lines`-th line of a plain file; of a compressed one, each
    frame start at least SEEK_MIN_LINES lines after the previous seek point (frequent flushes make many
    small frames, and an index entry for each would only bloat the index). `stored`: compress for size
    (ZSTD_STORED) rather than for a live feed (level ZSTD_LEVEL)."""

    def __init__(
        self,
        fh: BinaryIO,
        kind: str,
        block_lines: int = 4096,
        block_bytes: int = 1 << 21,
        stored: bool = False,
    ) -> None:
        self.fh, self.kind = fh, kind
        self.block_lines, self.block_bytes = block_lines, block_bytes
        self.blocks: list[tuple[int, int, float]] = []
        self.lines = 0  # lines written
        self.offset = fh.tell()  # bytes handed to fh
        self._buf: list[bytes] = []
        self._size = 0
        self._zstd: zstandard.ZstdCompressor | None = None
        if kind == "zst":
            self._zstd = (
                zstandard.ZstdCompressor(compression_params=ZSTD_STORED)
                if stored
                else zstandard.ZstdCompressor(level=ZSTD_LEVEL)
            )
        self._force = False  # the next line opens a new file: it must be a seek point

    def switch(self, fh: BinaryIO) -> None:
        """Go on in another file (the next part of a tape rotated by size); line numbers go on too."""
        self.flush()
        self.fh, self.offset, self._force = fh, fh.tell(), True

    def write(self, line: bytes, t: float) -> None:
        """`line` ends with a newline."""
        force, self._force = self._force, False
        if self.kind == "plain":
            if self.lines % self.block_lines == 0 or force:
                self.blocks.append((self.offset, self.lines + 1, t))
            self.fh.write(line)
            self.offset += len(line)
            self.lines += 1
            return
        if not self._buf and (
            force or not self.blocks or self.lines + 1 - self.blocks[-1][1] >= SEEK_MIN_LINES
        ):
            self.blocks.append((self.offset, self.lines + 1, t))
        self._buf.append(line)
        self._size += len(line)
        self.lines += 1
        if len(self._buf) >= self.block_lines or self._size >= self.block_bytes:
            self.end_block()

    def end_block(self) -> None:
        if not self._buf:
            return
        data = b"".join(self._buf)
        if self._zstd is not None:
            data = self._zstd.compress(data)
        else:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        self.fh.write(data)
        self.offset += len(data)
        self._buf.clear()
        self._size = 0

    def flush(self) -> None:
        """End the open frame and hand everything to the OS: after a kill -9 the file holds it whole."""
        self.end_block()
        self.fh.flush()
