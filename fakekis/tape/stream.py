"""A recording read as a stream (docs/recordings.md): `Tape.open` reads session.json, rest.yaml and the
index, never the ws file; `Tape.frames` decodes, checks and hands out data frames as they are asked for,
so memory does not grow with the tape's length. With an index, `frames(start=...)` begins at the block
holding `start` instead of at the top of the file.

Every line is checked as it passes (the same checks as `reader.load`, `reader._ws_line`): a bad line ends
the stream with a `RecordingError` naming the file and the line. A recording the recorder did not finish
(session.json `recorder.complete` false, e.g. after kill -9) may end inside a line or a compressed frame:
that tail is where the recording ends (`Tape.ended`), not an error.

Pure: files in, values out; no sockets, no clock.

Which lines take the player's fast path is `fastline` (the writers' line shape, recognised in bytes);
this module walks the tape and checks what that recogniser refuses; `framescan` is the player's pass over a
decoded chunk (`FRAME_HEAD` per line, `fast_split` and the full check where that does not take the line).

Why over 400 lines: it is one reader. The walk over parts, chunks and lines, the checked path and the one
way damage ends a stream share the Tape's parts, index and end state; split further, each piece would need
the others'. The player's chunk pass, which needs none of that state, is `framescan`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from fakekis.tape import compress, framescan
from fakekis.tape.fastline import fast_split
from fakekis.tape.format import MAX_T, RecordingError, TapeFrame, WsLine, as_frame
from fakekis.tape.index import INDEX_NAME, PLAIN_BLOCK_LINES, Index, IndexBuilder, StateFold, from_json
from fakekis.tape.reader import _load_rest, _load_session, _Problems, _ws_line

INF = math.inf
Ahead = Callable[
    [Iterator[tuple[int, bytes]]], Iterator[tuple[int, bytes]]
]  # runs a reader ahead of its user


@dataclass(frozen=True)
class Window:
    """The part of a tape to replay: tape seconds `start` to `until`, only `symbols` (None: all)."""

    start: float = 0.0
    until: float = INF
    symbols: frozenset[str] | None = None


@dataclass
class Ended:
    """Where an unfinished recording stops: the last whole line and the byte offset of what follows."""

    line: int
    offset: int
    reason: str


@dataclass
class Tape:
    path: Path
    ws_path: Path
    env: str
    start: float
    subscriptions: list[tuple[str, str]]
    synthetic: bool
    notes: str
    session: dict[str, object]
    rest: list[dict[str, object]]
    parts: list[Path] = field(default_factory=list)  # ws_path, then ws.2.jsonl..., when rotated by size
    index: Index | None = None
    ended: Ended | None = None
    _cut_ok: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, root: Path | str, use_index: bool = True) -> Tape:
        """The recording at `root`; raises RecordingError for a bad folder, session.json, rest.yaml or
        index. The ws file is only found here, not read."""
        root = Path(root)
        problem = _Problems(collect=False)
        if not root.is_dir():
            what = "is a file" if root.exists() else "does not exist"
            problem(root, None, f"not a recording folder ({what}; expected session.json and ws.jsonl)")
        meta = _load_session(root / "session.json", problem)
        rest = _load_rest(root / "rest.yaml", problem)
        assert meta is not None and rest is not None
        found = compress.find_ws(root)
        if not found:
            problem(
                root / "ws.jsonl", None, "missing (every recording needs ws.jsonl, .jsonl.zst or .jsonl.gz)"
            )
        if len(found) > 1:
            problem(root, None, f"holds {' and '.join(p.name for p in found)}; keep one ws file")
        data, start = meta
        recorder = data.get("recorder")
        tape = cls(
            path=root,
            ws_path=found[0],
            env=data["env"],
            start=start,
            subscriptions=[(a, b) for a, b in data["subscriptions"]],
            synthetic=data["synthetic"],
            notes=data.get("notes", ""),
            session=data,
            rest=rest,
            _cut_ok=isinstance(recorder, dict) and recorder.get("complete") is False,
        )
        tape.parts = compress.parts_of(tape.ws_path)
        if use_index:
            tape.index = read_index(root, tape.parts)
        return tape

    @property
    def products(self) -> dict[str, dict[str, str]]:
        return cast("dict[str, dict[str, str]]", self.session.get("products") or {})

    @property
    def duration(self) -> float | None:
        return self.index.end_t if self.index else None

    def frame_count(self) -> int | None:
        return self.index.frames if self.index else None

    # -- reading -----------------------------------------------------------------------------
    def _chunks(
        self, block: int, read_size: int = compress.READ_SIZE, ahead: Ahead | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(part, start, data) from index block `block` on, through every later part: `start` is the
        byte offset in that part where a compressed frame opens with this data, else -1 (plain: the
        offset of data[0]). Damage raises TapeDamage with `.path` set to the part it is in."""
        part, offset = 0, 0
        if block and self.index is not None:
            offset, _, _, part = self.index.blocks[block]
        for n in range(part, len(self.parts)):
            try:
                decoded = compress.chunks(self.parts[n], offset if n == part else 0, read_size)
                for start, data in ahead(decoded) if ahead is not None else decoded:
                    yield n, start, data
            except compress.TapeDamage as e:
                e.path, e.last = self.parts[n], n == len(self.parts) - 1
                raise

    def _damaged(self, e: compress.TapeDamage, no: int) -> None:
        """End the stream at damage: where an unfinished recording ends, else a RecordingError."""
        last = getattr(e, "last", True)
        if e.truncated and self._cut_ok and last:
            self.ended = Ended(no, e.offset, e.message)
            return
        raise RecordingError(getattr(e, "path", self.ws_path), None, f"{e} (after line {no})") from None

    def _first_line(self, block: int) -> int:
        return self.index.blocks[block][1] - 1 if (block and self.index is not None) else 0

    def raw_lines(self, block: int = 0) -> Iterator[tuple[int, tuple[int, int] | None, bytes]]:
        """(line number, seek mark, raw bytes) from index block `block` on. The mark, (part, byte offset),
        is set on a line that starts a compressed frame or a part (or every PLAIN_BLOCK_LINES-th plain
        line), where decoding could begin."""
        no = self._first_line(block)
        plain = compress.kind_of(self.ws_path) == "plain"
        carry = b""
        at: tuple[int, int] | None = None
        base, part = 0, -1
        try:
            for n, start, data in self._chunks(block):
                if n != part:
                    self._part_ends(part, carry, no)
                    part, carry = n, b""
                    if not plain:
                        at = (n, start)
                if plain:
                    base = start - len(carry)  # the byte offset of data[0] once the carry is put before it
                elif start >= 0 and not carry:
                    at = (n, start)
                if carry:
                    data = carry + data
                parts = data.split(b"\n")
                carry = parts.pop()
                for raw in parts:
                    no += 1
                    if plain:
                        yield no, ((n, base) if (no - 1) % PLAIN_BLOCK_LINES == 0 or base == 0 else None), raw
                        base += len(raw) + 1
                    else:
                        yield no, at, raw
                        at = None
        except compress.TapeDamage as e:
            self._damaged(e, no)
            return
        self._part_ends(part, carry, no, final=True)
        if carry.strip():
            yield no + 1, None, carry

    def _part_ends(self, part: int, carry: bytes, no: int, final: bool = False) -> None:
        """A part of a rotated tape must end with a whole line; the last one may be cut when unfinished."""
        if part < 0 or not carry.strip():
            return
        if final and self._cut_ok:
            self.ended = Ended(no, -1, f"line {no + 1} was cut short (no newline)")
            raise _CutShort
        if not final:
            raise RecordingError(
                self.parts[part], None, f"ends inside line {no + 1}; each part must end with a whole line"
            )

    def lines(self, block: int = 0) -> Iterator[tuple[int, WsLine]]:
        """Checked lines, (line number, WsLine): a RecordingError at the first bad one."""
        order = Order(self.index.blocks[block][2] if (block and self.index is not None) else -1.0)
        for no, batch in self._batches(block):
            yield from self.checked(no, batch, order)

    def checked(self, no: int, raws: Iterable[bytes], order: Order) -> Iterator[tuple[int, WsLine]]:
        """Lines no+1, no+2, ... checked one by one, `order` carried from the line before. A
        writer-shaped data line without `conn` is recognised by `fast_split` (see `frames`); every other
        line is fully parsed."""
        fast = fast_split
        for raw in raws:
            no += 1
            m = fast(raw) if raw.endswith(b'"}') else None  # with a conn: the full parse reads it
            line: WsLine | None = None
            if m is not None and (t := float(m[0])) <= MAX_T:
                try:
                    line = WsLine(t, "recv", m[1].decode())
                except UnicodeDecodeError:
                    line = None
            if line is None:
                line = self._parse(no, raw)
                if line is None:
                    continue
            if line.t < order.t:
                raise RecordingError(
                    self.ws_path,
                    no,
                    f'field "t" goes backwards ({line.t} after {order.t} on line {order.line}); t never decreases',
                )
            order.t, order.line = line.t, no
            yield no, line

    def _parse(self, no: int, raw: bytes) -> WsLine | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordingError(self.ws_path, no, f"not UTF-8 at byte {e.start}") from None
        if not text.strip():
            return None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise RecordingError(self.ws_path, no, f"invalid JSON: {e.msg} (column {e.colno})") from None
        line = _ws_line(obj)
        if isinstance(line, str):
            raise RecordingError(self.ws_path, no, line)
        return line

    def frames(
        self,
        start: float = 0.0,
        until: float = INF,
        symbols: Collection[str] | None = None,
        block: int | None = None,
    ) -> Iterator[TapeFrame]:
        """Replayable data frames with `start <= t <= until` (and, given `symbols`, only theirs). The
        player's hot path: each decoded chunk is decoded to text once and `fastline.FRAME_LINES` finds its
        writer-shaped data lines (`{"t":..,"dir":"recv","text":"0|TR|NNN|KEY.."}`, no escapes) with their
        header fields in one C pass. Every other line (and a chunk that is not UTF-8) goes through `one`,
        the per-line path: `fast_split`, else the full check (`_parse`), so what is accepted, and every
        error message, is the same."""
        if block is None:  # `block`: read from this index block instead of the one that holds `start`
            block = self.index.block_for(start) if (self.index is not None and start > 0) else 0
        last_t = self.index.blocks[block][2] if (block and self.index is not None) else -1.0
        cur = Cursor(self._first_line(block))
        yield from framescan.scan(
            self.blobs(block, cur), cur, last_t, start, until, symbols, self._parse, self.ws_path
        )

    def _batches(self, block: int) -> Iterator[tuple[int, list[bytes]]]:
        """Lines a decoded chunk at a time: (line number before the first, raw lines)."""
        cur = Cursor(self._first_line(block))
        for data in self.blobs(block, cur):
            parts = data.split(b"\n")
            if data.endswith(b"\n"):
                parts.pop()
            yield cur.line, parts
            cur.line += len(parts)

    def blobs(
        self, block: int, cur: Cursor, read_size: int = compress.READ_SIZE, ahead: Ahead | None = None
    ) -> Iterator[bytes]:
        """The tape's bytes from index block `block` on, a decoded chunk of whole lines at a time, each
        chunk ending with a newline (but the tape's last line, when it has none). The caller adds the
        lines it takes from each to `cur.line`, which names where damage is found. `ahead`, given, runs
        the reading and decoding (e.g. in a thread, `cli/ahead.py`); damage still surfaces here, in
        order."""
        carry = b""
        part = -1
        try:
            for n, _, data in self._chunks(block, read_size, ahead):
                if n != part:
                    self._part_ends(part, carry, cur.line)
                    part, carry = n, b""
                if carry:
                    data = carry + data
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if cut == len(data):
                    yield data
                elif cut:
                    yield data[:cut]
            self._part_ends(part, carry, cur.line, final=True)
        except compress.TapeDamage as e:
            self._damaged(e, cur.line)
            return
        except _CutShort:
            return
        if carry.strip():
            yield carry

    def warmup(self, start: float) -> Iterator[TapeFrame]:
        """The trade frames REST must have seen to answer as of `start`: the last trade of each symbol
        before it, in time order. With an index, the blocks before `start` are read backwards, one at a
        time, until every symbol's last trade is found or the checkpoint (which holds the rest) is
        reached: usually one block, however far into the day `start` is. REST keeps only the last trade
        per symbol (`exchange.market`), so this is the state a fold over every trade would reach."""
        if start <= 0:
            return
        if self.index is None:
            for f in self.frames(0.0, start):
                if f.t < start and f.tr_id == "H0STCNT0":
                    yield f
            return
        blocks = self.index.blocks
        last_block = self.index.block_for(start)
        cp_block, snap = self.index.checkpoint_for(last_block)
        wanted = set(self.index.first_trades)
        picked: dict[str, TapeFrame] = {}
        for blk in range(last_block, cp_block - 1, -1):
            if wanted <= picked.keys():
                break
            stop = blocks[blk + 1][1] if blk + 1 < len(blocks) else None
            here: dict[str, TapeFrame] = {}
            for f in self.frames(0.0, INF, block=blk):
                if (stop is not None and f.line >= stop) or f.t >= start:
                    break
                if f.tr_id == "H0STCNT0":
                    here[f.tr_key] = f
            for key, f in here.items():
                picked.setdefault(key, f)  # a later block's trade wins: blocks are read backwards
        for sym, (count, text) in snap.items():
            if sym not in picked:
                yield TapeFrame(0.0, "H0STCNT0", sym, count, text, 0)
        yield from sorted(picked.values(), key=lambda f: f.line)

    def first_trades(self) -> dict[str, TapeFrame]:
        """Each symbol's first trade frame (its previous close for REST), from the index or a scan."""
        if self.index is not None:
            return {
                k: TapeFrame(0.0, "H0STCNT0", k, n, text, 0)
                for k, (n, text) in self.index.first_trades.items()
            }
        out: dict[str, TapeFrame] = {}
        for f in self.frames():
            if f.tr_id == "H0STCNT0":
                out.setdefault(f.tr_key, f)
        return out

    def build_index(self, fold: StateFold | None = None) -> Index:
        """Scan the whole tape (checking every line) into a fresh Index, with the seek points the writer
        would have recorded (`compress.BlockWriter`), and the market state `fold` keeps (tape/index.py)."""
        b = IndexBuilder(fold=fold)
        last_t = -1.0
        gap = 1 if compress.kind_of(self.ws_path) == "plain" else compress.SEEK_MIN_LINES
        for no, at, raw in _uncut(self.raw_lines(0)):
            ln = self._parse(no, raw)
            if ln is None:
                continue
            if ln.t < last_t:
                raise RecordingError(self.ws_path, no, f'field "t" goes backwards ({ln.t} after {last_t})')
            last_t = ln.t
            if not b.blocks or (at is not None and (at[1] == 0 or no - b.blocks[-1][1] >= gap)):
                b.block(at[1] if at else 0, no, ln.t, at[0] if at else 0)
            b.line(ln.t)
            f = as_frame(no, ln)
            if f is not None:
                b.frame(f)
        return b.finish(self.ws_path.name, sum(p.stat().st_size for p in self.parts))


@dataclass
class Order:
    """Where the check of `t` never going back stands: the last `t` and the line that had it."""

    t: float = -1.0
    line: int = 0


@dataclass
class Cursor:
    """Whole lines handed out so far (`Tape.blobs`)."""

    line: int


def read_index(root: Path, parts: list[Path]) -> Index | None:
    """The index beside the tape, None when there is none; a RecordingError when it is not this tape's."""
    path = root / INDEX_NAME
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordingError(
            path, None, f"unreadable index ({e}); rebuild it with `fakekis index {root}`"
        ) from None
    idx = from_json(doc)
    if isinstance(idx, str):
        raise RecordingError(path, None, f"{idx}; rebuild it with `fakekis index {root}`")
    size = sum(p.stat().st_size for p in parts)
    name = parts[0].name
    if idx.tape != name or idx.size != size or idx.parts != len(parts):
        raise RecordingError(
            path,
            None,
            f"does not match its tape (indexes {idx.tape} of {idx.size} bytes in {idx.parts} part(s); "
            f"{name} has {size} in {len(parts)}); rebuild it with `fakekis index {root}`",
        )
    return idx


class _CutShort(Exception):
    """An unfinished recording's last line has no newline: the stream ends before it."""


def _uncut(
    lines: Iterator[tuple[int, tuple[int, int] | None, bytes]],
) -> Iterator[tuple[int, tuple[int, int] | None, bytes]]:
    try:
        yield from lines
    except _CutShort:
        return
