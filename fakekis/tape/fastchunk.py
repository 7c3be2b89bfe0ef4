"""A decoded chunk of ws.jsonl checked a whole chunk at a time, in numpy, for `fakekis validate`: which of
its lines have the writers' data-line shape, what `t` each holds, and what frame header (`TR|NNN|KEY`)
each carries, without a Python step per line.

The shape is `fastline.fast_split`'s without `conn`: exactly `{"t":T,"dir":"recv","text":"0|X"}` where T is
a JSON number without sign or exponent (at most 6 digits before the dot and 6 after, as the writers
round) and X holds no quote, backslash or control character, is UTF-8, and has two `|` before its first
`^`. Such a line is valid JSON that `reader._ws_line` reads as `WsLine(t, "recv", "0|X")`. A line flagged
not-ok may still be valid (a subscribe ack, an event, a `conn`, an escape): the caller checks it the
exact way (`tape/survey.py`). So `ok` may be too strict, never too lenient: tests/fakekis/test_survey.py
holds both paths to the same verdicts and summaries.

Why numpy: every test here is a handful of passes over the chunk's bytes in C (compare, gather, count);
a per-line Python step costs more than decompressing the line (bench/analysis.md, "validate").

Pure: bytes in, arrays out; no files, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

PREFIX = b'{"t":'
MID = b',"dir":"recv","text":"0|'  # between T and X
T_WIDTH = 14  # bytes looked at for T and its comma: 6 digits, a dot, 6 digits, the comma
HEAD_WIDTH = 32  # bytes looked at for X's `TR|NNN|KEY` up to its first `^` (or its end)
MAX_T_US = 7 * 86_400 * 10**6  # format.MAX_T, in millionths

_PRE = np.frombuffer(PREFIX, np.uint8)
_MID64 = np.frombuffer(MID, np.dtype("<u8")).tolist()  # 24 bytes: three words to compare
_AT_T = np.arange(T_WIDTH)
_AT_HEAD = np.arange(HEAD_WIDTH)
_ONE = int(np.frombuffer(b"001|", np.dtype("<u4"))[0])
_END16 = int(np.frombuffer(b'"}', np.dtype("<u2"))[0])
_POW10 = 10 ** np.arange(13, dtype=np.int64)
_NL, _QUOTE, _COMMA, _DOT, _ZERO, _BSLASH, _CARET, _PIPE = b'\n",.0\\^|'

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Chunk:
    """What `analyse` found in `data`, line by line (line i: bytes starts[i] to ends[i], its newline)."""

    data: bytes
    ok: Bools  # the line has the fast shape (everything below is meaningful only where it is true)
    starts: Ints
    ends: Ints
    t_us: Ints  # t in millionths of a second: exact, so its order is the order of float(T)
    t_len: Ints  # T is data[starts[i] + 5 : starts[i] + 5 + t_len[i]]
    head_arr: npt.NDArray[np.bytes_]  # X up to its first `^`: b"TR|NNN|KEY"
    single: Bools  # its NNN is 001

    @property
    def n(self) -> int:
        return len(self.starts)

    def t_text(self, i: int) -> bytes:
        s = int(self.starts[i]) + len(PREFIX)
        return self.data[s : s + int(self.t_len[i])]


def analyse(data: bytes) -> Chunk:
    """`data`: whole lines, each ended by a newline (a final line without one is not looked at)."""
    a = np.frombuffer(data, np.uint8)
    # newlines, and any other control character (one pass: in the common case they are all newlines)
    low = np.flatnonzero(a < 0x20)
    control = low[a[low] != _NL]
    ends = low[a[low] == _NL] if len(control) else low
    n = len(ends)
    starts = np.empty(n, np.int64)
    if n:
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    ok = (ends - starts) >= len(PREFIX) + 1 + len(MID) + 2 + 2  # the shortest line: {"t":0,...,"text":"0|||"}
    # {"t": then T up to the first comma: digits with at most one dot inside, no leading zero
    w = _windows(a, starts, len(PREFIX) + T_WIDTH, ok)
    ok &= (w[:, : len(PREFIX)] == _PRE).all(axis=1)
    tw = w[:, len(PREFIX) :]
    is_comma = tw == _COMMA
    t_len = is_comma.argmax(axis=1)
    ok &= is_comma.any(axis=1) & (t_len >= 1)
    inside = _AT_T[None, :] < t_len[:, None]
    digit = (tw >= _ZERO) & (tw <= _ZERO + 9) & inside
    dot = (tw == _DOT) & inside
    ok &= (digit | dot).sum(axis=1) == t_len
    dots = dot.sum(axis=1)
    dot_at = np.where(dots == 1, dot.argmax(axis=1), t_len)
    ok &= (dots <= 1) & (dot_at >= 1) & (dot_at != t_len - 1)  # not ".5", not "5."
    ok &= (tw[:, 0] != _ZERO) | (dot_at == 1)  # "0" or "0.x", never "01"
    ok &= (dot_at <= 6) & (t_len - dot_at <= 7)  # <= 6 digits each side of the dot
    # the digits read as one integer (Horner, a column at a time), then scaled to millionths
    t_us = np.zeros(len(starts), np.int64)
    for j in range(T_WIDTH):
        t_us = np.where(digit[:, j], t_us * 10 + (tw[:, j] - _ZERO), t_us)
    t_us *= _POW10[np.clip(6 - (t_len - dot_at - 1), 0, 6) * (dots == 1) + 6 * (dots != 1)]
    ok &= t_us <= MAX_T_US
    # ,"dir":"recv","text":"0| right after T, the text's closing "} right before the newline
    mid = starts + len(PREFIX) + t_len
    words = _Words(data, ok)
    ok &= (
        (words.u64(mid) == _MID64[0]) & (words.u64(mid + 8) == _MID64[1]) & (words.u64(mid + 16) == _MID64[2])
    )
    x = mid + len(MID)
    ok &= x <= ends - 2
    ok &= words.u16(np.maximum(ends - 2, 0)) == _END16  # a line too short for it is not ok already
    # X: `TR|NNN|KEY` up to its first ^ (or the closing quote), with both | before it
    h = _windows(a, x, HEAD_WIDTH, ok)
    stop = (h == _CARET) | (h == _QUOTE)
    cut = stop.argmax(axis=1)
    ok &= stop.any(axis=1)
    h = np.where(_AT_HEAD[None, :] < cut[:, None], h, 0).astype(np.uint8)
    ok &= (h == _PIPE).sum(axis=1) >= 2
    pipe = (h == _PIPE).argmax(axis=1)
    single = words.u32(x + pipe + 1) == _ONE
    _bytes_ok(data, a, starts, ends, control, ok)
    return Chunk(data, ok, starts, ends, t_us, t_len, h.view(f"S{HEAD_WIDTH}").ravel(), single)


class _Words:
    """Little-endian words read at any byte offset of `data` (numpy views with a one-byte stride, so a
    gather of n words is n loads, not n rows of bytes). An offset whose word would run past the end
    clears its line's `ok`."""

    def __init__(self, data: bytes, ok: Bools) -> None:
        self.data, self.ok = data, ok

    def _read(self, dtype: type[np.unsignedinteger[Any]], at: Ints) -> npt.NDArray[Any]:
        size = np.dtype(dtype).itemsize
        count = len(self.data) - size + 1
        if count <= 0:
            self.ok[:] = False
            return np.zeros(len(at), dtype)
        view = np.ndarray((count,), dtype=np.dtype(dtype).newbyteorder("<"), buffer=self.data, strides=(1,))
        over = at >= count
        if over.any():
            self.ok &= ~over
            at = np.minimum(at, count - 1)
        words: npt.NDArray[Any] = view[at]
        return words

    def u16(self, at: Ints) -> npt.NDArray[Any]:
        return self._read(np.uint16, at)

    def u32(self, at: Ints) -> npt.NDArray[Any]:
        return self._read(np.uint32, at)

    def u64(self, at: Ints) -> npt.NDArray[Any]:
        return self._read(np.uint64, at)


def _windows(a: npt.NDArray[np.uint8], at: Ints, width: int, ok: Bools) -> npt.NDArray[np.uint8]:
    """a[at[i] : at[i] + width] for each i, as rows (a copy); a window that would run past the end of
    `a` clears `ok[i]` (its row is then read from further back, and means nothing)."""
    last = len(a) - width
    if last < 0:
        ok[:] = False
        return np.zeros((len(at), width), np.uint8)
    over = at > last
    if over.any():
        ok &= ~over
        at = np.minimum(at, last)
    return np.lib.stride_tricks.sliding_window_view(a, width)[at]


def _bytes_ok(
    data: bytes, a: npt.NDArray[np.uint8], starts: Ints, ends: Ints, control: Ints, ok: Bools
) -> None:
    """Clear `ok` on a line holding a control character (`control`: where they are), a backslash or a quote
    beyond the ten its shape has (all in X, then), or on every line when the chunk is not UTF-8."""
    if len(control):
        ok[np.searchsorted(ends, control)] = False
    at = data.find(b"\\")
    while at >= 0:  # escapes sit in the acks and PINGPONGs, already not ok: jump to each one's end
        k = int(np.searchsorted(ends, at))
        ok[k] = False
        at = data.find(b"\\", int(ends[k]))
    # Each ok line has ten quotes where its shape puts them, so the chunk's count settles it unless
    # some line holds more: then count line by line.
    theirs = sum(
        data.count(b'"', s, e) for s, e in zip(starts[~ok].tolist(), ends[~ok].tolist(), strict=True)
    )
    if np.count_nonzero(a == _QUOTE) != 10 * int(np.count_nonzero(ok)) + theirs:
        quotes = np.flatnonzero(a == _QUOTE)
        per_line = np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts)
        ok &= per_line == 10
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            ok[:] = False
