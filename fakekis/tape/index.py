"""The tape index, `ws.index.json` beside the ws file (docs/recordings.md): where decoding may start
(blocks: byte offset, first line, first `t`), what REST needs from before a point (the first trade of each
symbol, at checkpoints the last trade frame of each symbol, and, given a `StateFold`, the market state at
market checkpoints), and totals. Written at record and generate time; `fakekis index` rebuilds it for a
hand-made tape.

The market state is the exchange's (exchange/warm.py folds it and reads it back); this floor only carries
it: a text per market checkpoint, taken at the first block boundary after `fold.every` data frames.

`IndexBuilder` is a fold: fed blocks and frames in tape order, it keeps only per-symbol state and the
block list, so indexing a day takes the same memory as indexing a minute.

Pure: values in, a dict out; reading and writing the file is the caller's.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fakekis.tape.format import TapeFrame

INDEX_FORMAT = "kis-harness/index"
INDEX_VERSION = 1
INDEX_NAME = "ws.index.json"
CHECKPOINT_EVERY = 16  # blocks between checkpoints: a seek reads back at most this many blocks
PLAIN_BLOCK_LINES = 4096  # a plain ws.jsonl gets a seek point every this many lines


class StateFold(Protocol):
    """What the market state is folded by while a tape is indexed (exchange/warm.IndexFold)."""

    every: int  # data frames between market checkpoints

    def apply(self, tr_id: str, text: str, count: int, symbol: str) -> None: ...

    def checkpoint(self) -> str: ...


@dataclass
class Index:
    tape: str  # the ws file's name (its first part's)
    size: int  # its size in bytes when indexed (all parts together)
    lines: int
    end_t: float
    frames: int
    by_tr: dict[str, int]
    blocks: list[tuple[int, int, float, int]]  # (byte offset, first line number, first t, part - 1)
    first_trades: dict[str, tuple[int, str]]  # symbol -> (records, frame text)
    checkpoints: list[tuple[int, dict[str, tuple[int, str]]]]  # (block, symbol -> last trade before it)
    parts: int = 1  # files the tape is rotated over
    market: list[tuple[int, str]] | None = None  # (block, state text); None: indexed without market state
    _ts: list[float] = field(default_factory=list, repr=False)

    def block_for(self, start: float) -> int:
        """The last block whose first `t` is before `start` (lines at `start` may end the block before)."""
        if not self._ts:
            self._ts = [b[2] for b in self.blocks]
        return max(0, bisect.bisect_left(self._ts, start) - 1)

    def checkpoint_for(self, block: int) -> tuple[int, dict[str, tuple[int, str]]]:
        best: tuple[int, dict[str, tuple[int, str]]] = (0, {})
        for cp in self.checkpoints:
            if cp[0] <= block:
                best = cp
        return best

    def market_for(self, block: int) -> tuple[int, list[str]]:
        """The last market checkpoint at or before `block` and the state texts up to it (0, [] if none)."""
        texts = [text for b, text in self.market or () if b <= block]
        return (self.market or [])[len(texts) - 1][0] if texts else 0, texts

    def to_json(self) -> dict[str, Any]:
        doc = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "tape": self.tape,
            "size": self.size,
            "parts": self.parts,
            "lines": self.lines,
            "end_t": self.end_t,
            "frames": self.frames,
            "by_tr": self.by_tr,
            "blocks": [list(b) for b in self.blocks],
            "first_trades": {k: list(v) for k, v in self.first_trades.items()},
            "checkpoints": [[b, {k: list(v) for k, v in snap.items()}] for b, snap in self.checkpoints],
        }
        if self.market is not None:
            doc["market"] = [[b, text] for b, text in self.market]
        return doc


def from_json(doc: object) -> Index | str:
    """The index in `doc`, or what is wrong with it."""
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        return f'"format" must be "{INDEX_FORMAT}"'
    if doc.get("version") != INDEX_VERSION:
        return f'"version" must be {INDEX_VERSION}'
    try:
        blocks = [(int(b[0]), int(b[1]), float(b[2]), int(b[3]) if len(b) > 3 else 0) for b in doc["blocks"]]
        if not all(
            (a[3], a[0]) < (b[3], b[0]) and a[1] < b[1] and a[2] <= b[2] and b[3] >= 0
            for a, b in pairwise(blocks)
        ):
            return '"blocks" must grow in part and offset, line and t'
        return Index(
            tape=str(doc["tape"]),
            size=int(doc["size"]),
            lines=int(doc["lines"]),
            end_t=float(doc["end_t"]),
            frames=int(doc["frames"]),
            by_tr={str(k): int(v) for k, v in doc["by_tr"].items()},
            blocks=blocks,
            first_trades={str(k): (int(n), str(x)) for k, (n, x) in doc["first_trades"].items()},
            checkpoints=[
                (int(b), {str(k): (int(n), str(x)) for k, (n, x) in snap.items()})
                for b, snap in doc["checkpoints"]
            ],
            parts=int(doc.get("parts", 1)),
            market=_market(doc.get("market"), len(blocks)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return f"missing or malformed field ({type(e).__name__}: {e})"


def _market(doc: object, blocks: int) -> list[tuple[int, str]] | None:
    """The market checkpoints of an index (None: an older index, written without them)."""
    if doc is None:
        return None
    if not isinstance(doc, list):
        raise TypeError('"market" must be a list of [block, state]')
    out = [(int(b), str(text)) for b, text in doc]
    if not all(0 < b < blocks for b, _ in out) or not all(a[0] < b[0] for a, b in pairwise(out)):
        raise ValueError('"market" blocks must grow and name blocks of the index')
    return out


class IndexBuilder:
    """Fed `block` at each seek point and `frame`/`line` in tape order; `finish` gives the Index. With a
    `fold`, every data frame is folded into it too, and its state is kept at market checkpoints."""

    def __init__(self, every: int | None = None, fold: StateFold | None = None) -> None:
        self.every = every or CHECKPOINT_EVERY
        self.fold = fold
        self.market: list[tuple[int, str]] | None = None if fold is None else []
        self._since = 0  # data frames folded since the last market checkpoint
        self.blocks: list[tuple[int, int, float, int]] = []
        self.parts = 1
        self.checkpoints: list[tuple[int, dict[str, tuple[int, str]]]] = []
        self.first: dict[str, tuple[int, str]] = {}
        self.last: dict[str, tuple[int, str]] = {}
        self.by_tr: dict[str, int] = {}
        self.frames = 0
        self.lines = 0
        self.end_t = 0.0

    def block(self, offset: int, first_line: int, first_t: float, part: int = 0) -> None:
        n = len(self.blocks)
        self.blocks.append((offset, first_line, first_t, part))
        self.parts = max(self.parts, part + 1)
        if n % self.every == 0:
            self.checkpoints.append((n, dict(self.last)))
        if self.fold is not None and self.market is not None and n and self._since >= self.fold.every:
            self.market.append((n, self.fold.checkpoint()))  # the state before this block's first line
            self._since = 0

    def line(self, t: float) -> None:
        self.lines += 1
        self.end_t = t

    def frame(self, f: TapeFrame) -> None:
        self.frames += 1
        self.by_tr[f.tr_id] = self.by_tr.get(f.tr_id, 0) + 1
        if self.fold is not None:
            self.fold.apply(f.tr_id, f.text, f.records, f.tr_key)
            self._since += 1
        if f.tr_id == "H0STCNT0":
            rec = (f.records, f.text)
            self.first.setdefault(f.tr_key, rec)
            self.last[f.tr_key] = rec

    def finish(self, tape: str, size: int) -> Index:
        return Index(
            tape,
            size,
            self.lines,
            self.end_t,
            self.frames,
            self.by_tr,
            self.blocks,
            self.first,
            self.checkpoints,
            self.parts,
            self.market,
        )
