"""`fakekis inspect`: what a recording holds, without replaying it.

Duration, messages per TR and symbol, the longest gaps between data frames, disconnects with their
close codes, PINGPONG cadence and the record widths seen (fields / count, so 46 vs 47 shows up).
Parsing here is fakekis's own (a few splits), never the gateway's decoder.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import pairwise
from statistics import median
from typing import Any

from fakekis.tape.format import Recording
from fakekis.tape.stream import Tape
from fakekis.wire import frames


def inspect_recording(
    rec: Recording | Tape, gaps: int = 3, progress: Callable[[int, float], None] | None = None
) -> dict[str, Any]:
    """The summary; a `Tape` is read as a stream (what is kept grows with symbols and TRs, and with
    PINGPONGs and disconnects, never with data frames). `progress(lines, tape_t)` is called now and then."""
    per_tr: Counter[str] = Counter()
    per_symbol: Counter[str] = Counter()
    widths: dict[str, Counter[int]] = defaultdict(Counter)
    malformed = 0
    longest: list[tuple[float, float, int]] = []  # a min-heap of the `gaps` longest (gap, after_t, line)
    prev: tuple[float, int] | None = None
    pings: list[float] = []
    closes: list[dict[str, Any]] = []
    opens = 0
    sent = 0
    skipped = no = 0
    duration = 0.0
    lines = rec.lines() if isinstance(rec, Tape) else enumerate(rec.lines, 1)
    for no, ln in lines:
        duration = ln.t
        if progress is not None and no % 65536 == 0:
            progress(no, ln.t)
        if ln.event == "open":
            opens += 1
        elif ln.event == "close":
            closes.append({"t": ln.t, "conn": ln.conn, "code": ln.code, "reason": ln.reason})
        elif ln.dir == "send":
            sent += 1
        elif ln.text is not None:
            text = ln.text
            if text.startswith("{") and '"PINGPONG"' in text[:40]:
                pings.append(ln.t)
            elif text[:2] in ("0|", "1|"):
                skipped += text[0] == "1"
                parts = frames.split_frame(text)
                n = frames.frame_count(parts[2]) if parts is not None else None  # '²' is no count
                if parts is None or not n:
                    malformed += 1
                    continue
                tr = parts[1]
                per_tr[tr] += 1
                if prev is not None:
                    gap = (ln.t - prev[0], prev[0], no)
                    if len(longest) < gaps:
                        heapq.heappush(longest, gap)
                    elif gap > longest[0]:
                        heapq.heapreplace(longest, gap)
                prev = (ln.t, no)
                if text[0] == "0":
                    fields = parts[3].split("^")
                    per_symbol[f"{tr} {fields[0]}"] += 1
                    if len(fields) % n:
                        malformed += 1
                    else:
                        widths[tr][len(fields) // n] += 1
    if progress is not None:
        progress(no, duration)
    spans = sorted(longest, reverse=True)
    intervals = [b - a for a, b in pairwise(pings)]
    return {
        "recording": str(rec.path),
        "env": rec.env,
        "synthetic": rec.synthetic,
        "start": rec.session["start"],
        "duration_s": duration,
        "connections": opens,
        "client_messages": sent,
        "data_frames": dict(per_tr),
        "by_symbol": dict(per_symbol.most_common()),
        "record_widths": {tr: dict(c) for tr, c in widths.items()},
        "malformed_frames": malformed,
        "longest_gaps": [
            {"seconds": round(g, 3), "after_t": round(t, 3), "line": line} for g, t, line in spans[:gaps]
        ],
        "disconnects": closes,
        "pingpong": {
            "count": len(pings),
            "median_interval_s": round(median(intervals), 3) if intervals else None,
            "max_interval_s": round(max(intervals), 3) if intervals else None,
        },
        "rest_interactions": len(rec.rest),
        "encrypted_frames_skipped_in_replay": skipped,
    }
