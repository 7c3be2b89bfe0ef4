"""A ws file written as it happens (the recording proxy's output): plain, zst or gz by its name, and safe
to kill at any moment.

- Plain: every line is flushed as it is written.
- Compressed: lines gather in a block that is ended (one independent zstd frame or gzip member, handed
  to the OS) when `flush_every` seconds have passed since the last flush, and at `close`. After a kill -9
  the file is every ended block plus perhaps a torn last one; session.json still says
  `recorder.complete: false`, so readers take the torn tail as where the recording ends
  (`fakekis validate` says the line and byte) instead of an error.

With `rotate_bytes`, a file that has reached that size is closed after the line that took it there and
the next line goes into the next part (ws.2.jsonl.zst, ws.3.jsonl.zst, ...): readers take the parts as one
tape, line numbers and the index run across them, and no line is split or lost at the seam.

The index is built as lines pass (`IndexBuilder`, constant memory) and written at `close`. Pure: lines,
times and a file in; no sockets, no clock (the caller passes `now`).
"""

from __future__ import annotations

import json
from pathlib import Path

from fakekis.tape.compress import BlockWriter, kind_of, part_name
from fakekis.tape.format import WsLine, as_frame
from fakekis.tape.index import INDEX_NAME, PLAIN_BLOCK_LINES, IndexBuilder, StateFold


class TapeSink:
    def __init__(
        self,
        path: Path,
        flush_every: float = 0.5,
        rotate_bytes: int | None = None,
        fold: StateFold | None = None,
    ) -> None:
        """`fold` keeps the market state for the index's market checkpoints (exchange/warm.IndexFold)."""
        self.path, self.kind, self.flush_every = path, kind_of(path), flush_every
        self.rotate_bytes = rotate_bytes
        self.parts = [path]
        self._fh = path.open("xb")
        self._out = BlockWriter(self._fh, self.kind, block_lines=PLAIN_BLOCK_LINES)
        self._index = IndexBuilder(fold=fold)
        self._blocks = 0
        self._last_flush = float("-inf")
        self.lines = 0

    def write(self, text: str, line: WsLine, now: float) -> None:
        """`text` is the line's JSON (already scrubbed); `line` its parsed form, for the index."""
        self._out.write(text.encode("utf-8") + b"\n", line.t)
        self.lines += 1
        if len(self._out.blocks) > self._blocks:
            self._blocks = len(self._out.blocks)
            self._index.block(*self._out.blocks[-1], len(self.parts) - 1)
        self._index.line(line.t)
        f = as_frame(self.lines, line)
        if f is not None:
            self._index.frame(f)
        if self.kind == "plain" or now - self._last_flush >= self.flush_every:
            self.flush(now)
        if self.rotate_bytes is not None and self._out.offset >= self.rotate_bytes:
            self._rotate(now)

    def _rotate(self, now: float) -> None:
        nxt = self.path.with_name(part_name(self.path.name, len(self.parts) + 1))
        fh = nxt.open("xb")
        self._out.switch(fh)  # ends and flushes the open block into the old file first
        self._fh.close()
        self._fh = fh
        self.parts.append(nxt)
        self._last_flush = now

    def flush(self, now: float) -> None:
        self._out.flush()
        self._last_flush = now

    def close(self) -> None:
        """End the last block and write the index beside the file (temporary name, then renamed)."""
        if self._fh.closed:
            return
        self._out.flush()
        self._fh.close()
        idx = self._index.finish(self.path.name, sum(p.stat().st_size for p in self.parts))
        tmp = self.path.with_name(INDEX_NAME + ".partial")
        tmp.write_text(json.dumps(idx.to_json(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path.with_name(INDEX_NAME))
