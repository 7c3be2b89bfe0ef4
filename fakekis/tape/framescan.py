"""The player's pass over a tape's decoded chunks (`Tape.frames` hands it the chunks): each chunk is
decoded to text once and `fastline.FRAME_HEAD` matches each writer-shaped data line's head (t, tr_id, record
count, key) in C. Every other line, and a chunk that is not UTF-8, goes through `one`, the per-line path:
`fast_split`, else the tape's full check, so what is accepted, and every error message, is the same as
`Tape.lines` gives (tests/fakekis/test_frame_head.py holds the two paths to the same frames and errors).

The hot path of a replay: no per-line objects beyond the frame it yields. Pure: bytes in, frames out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Protocol, cast

import numpy as np

from fakekis.tape.fastline import FRAME_HEAD, fast_split
from fakekis.tape.format import MAX_T, RecordingError, TapeFrame, WsLine, as_frame
from fakekis.wire import frames

_COUNTS = {f"{n:03d}": n for n in range(1, 100)}  # the record counts seen in practice, looked up
# A TapeFrame from its six fields in one tuple: skips the NamedTuple's Python-level __new__ (~0.2 us a frame)
_new_frame = cast(
    "Callable[[type[TapeFrame], tuple[float, str, str, int, str, int]], TapeFrame]", tuple.__new__
)


class LineCursor(Protocol):
    line: int  # the number of the line before the chunk being read; the caller advances it per chunk


def scan(
    blobs: Iterable[bytes],
    cur: LineCursor,
    last_t: float,
    start: float,
    until: float,
    symbols: Collection[str] | None,
    parse: Callable[[int, bytes], WsLine | None],
    path: Path,
) -> Iterator[TapeFrame]:
    """Data frames with `start <= t <= until` (and, given `symbols`, only theirs) from whole-line chunks;
    `last_t` is the time the stream must not go back from, `parse` the full check of one line."""
    fast = fast_split

    def one(no: int, raw: bytes) -> TapeFrame | bool:
        """Line `no` the slow way: its frame, True when past `until` (the stream ends), else False."""
        nonlocal last_t
        m = fast(raw)
        if m is not None:
            t = float(m[0])
            if last_t <= t <= MAX_T:
                try:
                    text = m[1].decode()
                except UnicodeDecodeError:
                    pass
                else:
                    last_t = t
                    if t > until:
                        return True
                    if t < start:
                        return False
                    i1 = text.find("|", 2)
                    i2 = text.find("|", i1 + 1)
                    if i1 < 0 or i2 < 0:
                        return False  # a malformed frame is never routed as data
                    j = text.find("^", i2 + 1)
                    key = text[i2 + 1 : j] if j >= 0 else text[i2 + 1 :]
                    if symbols is not None and key not in symbols:
                        return False
                    count = _COUNTS.get(text[i1 + 1 : i2]) or frames.frame_count(text[i1 + 1 : i2]) or 1
                    return TapeFrame(t, text[2:i1], key, count, text, no)
        ln = parse(no, raw)
        if ln is None:
            return False
        if ln.t < last_t:
            raise RecordingError(
                path, no, f'field "t" goes backwards ({ln.t} after {last_t}); t never decreases'
            )
        last_t = ln.t
        if ln.t > until:
            return True
        f = as_frame(no, ln)
        if f is not None and ln.t >= start and (symbols is None or f.tr_key in symbols):
            return f
        return False

    match, counts, count_of, new = FRAME_HEAD.match, _COUNTS, frames.frame_count, _new_frame
    for data in blobs:
        no, pos = cur.line, 0
        cur_lines = data.count(b"\n") + (not data.endswith(b"\n"))
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = ""
        find = text.find
        clean = _no_control(data)  # else each fast line's text is checked (isprintable: no control)
        while (nl := find("\n", pos)) >= 0:
            at, pos = pos, nl + 1
            no += 1
            m = match(text, at, nl)
            if m is not None:
                end = m.end()
                q = find('"', end, nl)  # the text's closing quote must be the line's: `"}`
                if q == nl - 2 and text[nl - 1] == "}" and find("\\", end, q) < 0:
                    body = text[m.start(2) : q]
                    t = float(m[1])
                    if last_t <= t <= MAX_T and (clean or body.isprintable()):
                        last_t = t
                        if t > until:
                            return
                        key = m[5]
                        if t >= start and (symbols is None or key in symbols):
                            n = m[4]
                            count = counts.get(n) or count_of(n) or 1
                            yield new(TapeFrame, (t, m[3], key, count, body, no))
                        continue
            r = one(no, text[at:nl].encode())  # not the fast shape, or t out of order: the full check
            if r is True:
                return
            if isinstance(r, TapeFrame):
                yield r
        rest = text[pos:].encode() if text else data
        if rest:
            raws = rest.split(b"\n")
            if rest.endswith(b"\n"):
                raws.pop()
            for raw in raws:
                no += 1
                r = one(no, raw)
                if r is True:
                    return
                if isinstance(r, TapeFrame):
                    yield r
        cur.line += cur_lines


def _no_control(data: bytes, step: int = 1 << 16) -> bool:
    """True when `data` holds no control character but newlines: counted in slices, so the check never
    holds a copy of a whole decoded chunk (tests/e2e/test_plugin_streams_tape.py bounds the peak)."""
    a = np.frombuffer(data, np.uint8)
    low = sum(int(np.count_nonzero(a[i : i + step] < 0x20)) for i in range(0, len(a), step))
    return low == data.count(b"\n")
