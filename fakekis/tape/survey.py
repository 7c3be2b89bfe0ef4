"""One checked pass over a whole tape, summarised: what `fakekis validate` prints (docs/recordings.md).

Every line is checked as `Tape.lines` checks it (well-formed, known fields, `t` in range and never going
back) and counted (events, client messages, data frames per TR and per symbol, malformed and encrypted
frames). Two paths give the same verdict, the same first error and the same counts:

- fast: each decoded chunk is analysed whole (`fastchunk.analyse`, numpy). Runs of lines in the writers'
  data-line shape are checked and counted from its arrays: `t` never going back is one comparison over
  the run, the frames per TR and symbol one Counter over its headers;
- exact: every other line (an ack, an event, a `conn`, an escape, anything odd or broken), and any run
  whose `t` goes back, is checked line by line by `Tape.checked`, so an error names the same line with
  the same words as before.

`fast=False` takes the exact path for every line (tests/fakekis/test_survey.py compares the two).

Pure: a Tape in, counts out; no sockets, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fakekis.tape import fastchunk
from fakekis.tape.format import WsLine
from fakekis.tape.stream import Ahead, Cursor, Order, Tape
from fakekis.wire import frames


@dataclass
class Survey:
    lines: int = 0  # checked lines (a blank line is skipped, as everywhere)
    t: float = 0.0  # the last line's
    opens: int = 0
    closes: int = 0
    sent: int = 0
    encrypted: int = 0
    malformed: int = 0
    per_tr: dict[str, int] = field(default_factory=dict)
    per_symbol: dict[str, int] = field(default_factory=dict)  # "TR KEY" -> frames

    def add(self, ln: WsLine) -> None:
        """Count one checked line (the exact path)."""
        self.lines += 1
        self.t = ln.t
        if ln.event is not None:
            self.opens += ln.event == "open"
            self.closes += ln.event == "close"
        elif ln.dir == "send":
            self.sent += 1
        elif ln.text is not None and ln.text[:2] in ("0|", "1|"):
            # malformed = no four parts, a count that is not digits, or fields that do not divide by it;
            # data frames = what replay sends (every 0| frame with four parts).
            text = ln.text
            parts = frames.split_frame(text)
            count = frames.frame_count(parts[2]) if parts is not None else None
            if text[0] == "1":
                self.encrypted += 1
                self.malformed += not count
                return
            if parts is None:
                self.malformed += 1
                return
            self._frame(parts[1], parts[3].split("^", 1)[0], 1)
            self.malformed += not count or (parts[3].count("^") + 1) % count != 0

    def _frame(self, tr: str, key: str, n: int) -> None:
        self.per_tr[tr] = self.per_tr.get(tr, 0) + n
        sym = f"{tr} {key}"
        self.per_symbol[sym] = self.per_symbol.get(sym, 0) + n

    def add_fast(self, c: fastchunk.Chunk, which: npt.NDArray[np.bool_]) -> None:
        """Count the lines of `c` picked by `which`, all of the fast shape (each a `0|` data frame with four
        parts), as `add` would one by one in their order."""
        picked = c.head_arr[which]
        self.lines += len(picked)
        multi: dict[bytes, int] = {}
        for head, n in Counter(picked.tolist()).items():
            tr, count_field, key = head.decode().split("|", 2)
            self._frame(tr, key, n)
            count = frames.frame_count(count_field)
            if not count:
                self.malformed += n
            elif count > 1:
                multi[head] = count
        if multi:  # fields = carets + 1, line by line (all of X's carets are in its payload)
            at = np.flatnonzero(which & ~c.single)
            data = c.data
            for head, s, e in zip(
                c.head_arr[at].tolist(), c.starts[at].tolist(), c.ends[at].tolist(), strict=True
            ):
                count = multi.get(head)
                if count is not None:
                    self.malformed += (data.count(b"^", s, e) + 1) % count != 0

    def summary(self) -> dict[str, Any]:
        return {
            "duration_s": self.t,
            "ws_lines": self.lines,
            "connections": self.opens,
            "disconnects": self.closes,
            "client_messages": self.sent,
            "data_frames": self.per_tr,
            "by_symbol": dict(sorted(self.per_symbol.items(), key=lambda kv: -kv[1])),
            "malformed_frames": self.malformed,
            "encrypted_frames_skipped_in_replay": self.encrypted,
        }


Progress = Callable[[int, float], None]
READ_SIZE = 1 << 20  # compressed bytes per read: a decoded chunk is then most of a frame (numpy's cost
# per call is then small per line)


def survey(
    tape: Tape,
    progress: Progress | None = None,
    fast: bool = True,
    ahead: Ahead | None = None,
    read_size: int = READ_SIZE,
) -> Survey:
    """Check and count every line of `tape` from the top; a RecordingError at the first bad line.
    `ahead`: how to run the reading and decoding ahead of the checks (`Tape.blobs`)."""
    out = Survey()
    order = Order()
    cur = Cursor(0)
    for data in tape.blobs(0, cur, read_size, ahead):
        no = cur.line
        if not fast or not data.endswith(b"\n"):
            cur.line += _exact(tape, no, data.split(b"\n"), order, out)
        else:
            cur.line += _chunk(tape, no, fastchunk.analyse(data), order, out)
        if progress is not None:
            progress(out.lines, out.t)
    return out


def _exact(tape: Tape, no: int, raws: list[bytes], order: Order, out: Survey) -> int:
    """Lines the exact way; how many raw lines that was (a trailing empty piece after a newline is none)."""
    if raws and not raws[-1]:
        raws.pop()
    for _, ln in tape.checked(no, raws, order):
        out.add(ln)
    return len(raws)


def _chunk(tape: Tape, no: int, c: fastchunk.Chunk, order: Order, out: Survey) -> int:
    """A chunk's runs of fast-shaped lines checked from its arrays, its other lines the exact way, in
    order; then all counted."""
    bad = np.flatnonzero(~c.ok).tolist()
    others: list[tuple[int, WsLine]] = []  # (index, line) of each line checked the exact way
    i = 0
    for j in [*bad, c.n]:
        if i < j:
            _run(tape, no, c, i, j, order)
        if j < c.n:
            raw = c.data[int(c.starts[j]) : int(c.ends[j])]
            others += ((j, ln) for _, ln in tape.checked(no + j, [raw], order))
        i = j + 1
    if not any(_framed(ln) for _, ln in others):  # the frames are all fast ones: count them at once
        out.add_fast(c, c.ok)
        for _, ln in others:
            out.add(ln)
    else:  # keep the order in which each TR and symbol is first seen
        i = 0
        for j, ln in others:
            out.add_fast(c, _between(c.n, i, j) & c.ok)
            out.add(ln)
            i = j + 1
        out.add_fast(c, _between(c.n, i, c.n) & c.ok)
    last = c.n - 1
    while last >= 0 and not c.ok[last] and not (others and others[-1][0] == last):
        last -= 1  # a blank line at the end: the last t is the line's before it
    if last >= 0:
        out.t = float(c.t_text(last)) if c.ok[last] else others[-1][1].t
    return c.n


def _framed(ln: WsLine) -> bool:
    """Whether `Survey.add` counts `ln` under a TR and a symbol."""
    return ln.event is None and ln.dir != "send" and ln.text is not None and ln.text[:2] == "0|"


def _between(n: int, i: int, j: int) -> npt.NDArray[np.bool_]:
    out = np.zeros(n, np.bool_)
    out[i:j] = True
    return out


def _run(tape: Tape, no: int, c: fastchunk.Chunk, i: int, j: int, order: Order) -> None:
    """Check that `t` never goes back over lines i..j-1 (all fast-shaped) and from the line before."""
    if float(c.t_text(i)) >= order.t and (j - i == 1 or bool((np.diff(c.t_us[i:j]) >= 0).all())):
        order.t, order.line = float(c.t_text(j - 1)), no + j
        return
    # t goes back in the run: the exact path finds the line and says it as ever (and raises)
    for _ in tape.checked(no + i, [c.data[int(c.starts[k]) : int(c.ends[k])] for k in range(i, j)], order):
        pass
    raise AssertionError("a run whose t goes back passed the exact check")  # pragma: no cover
