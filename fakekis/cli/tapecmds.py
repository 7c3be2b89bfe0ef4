"""The streaming tape commands: index, slice, merge, and the streamed validate/inspect pass with its
progress display (docs/recordings.md). Every one reads the tape once, as a stream, in constant memory,
and writes through `tape.write` (a temporary folder renamed into place), so a failure leaves nothing
that looks like a finished recording.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from fakekis import tape
from fakekis.cli.ahead import ahead
from fakekis.cli.args import _say
from fakekis.tape.index import INDEX_NAME
from fakekis.tape.stream import Tape
from fakekis.tape.survey import survey
from fakekis.wire import frames
from kisclock import KST

_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_AUTH_PATHS = ("/oauth2/tokenP", "/oauth2/Approval", "/oauth2/revokeP")


def when(text: str) -> str:
    """--from/--until as typed: HH:MM[:SS] (KST, on the recording's day) or +SECONDS into the tape."""
    if _CLOCK.fullmatch(text) or (text.startswith("+") and _seconds(text[1:]) is not None):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: give a KST time of day HH:MM[:SS] (e.g. 13:00) or +SECONDS")


def _seconds(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if 0 <= v < float("inf") else None


def tape_seconds(spec: str, start: float) -> float:
    """Seconds into a tape that starts at instant `start` (may be negative: before the tape)."""
    if spec.startswith("+"):
        return float(spec[1:])
    m = _CLOCK.fullmatch(spec)
    assert m is not None  # `when` checked it
    day = datetime.fromtimestamp(start, KST)
    at = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        hours=int(m[1]), minutes=int(m[2]), seconds=int(m[3] or 0)
    )
    return at.timestamp() - start


def window(args: argparse.Namespace, rec: Tape) -> tape.Window:
    start = tape_seconds(args.start, rec.start) if args.start else 0.0
    until = tape_seconds(args.until, rec.start) if args.until else float("inf")
    return tape.Window(max(0.0, start), until, frozenset(args.symbols) if args.symbols else None)


# -- progress ----------------------------------------------------------------------------------------


class Progress:
    """frames, tape time, rate and ETA: redrawn on a terminal, one JSON line per update with --json."""

    def __init__(self, out: TextIO, total: int | None, as_json: bool, every: float = 0.5) -> None:
        self.out, self.total, self.as_json, self.every = out, total, as_json, every
        self.t0 = self.last = time.monotonic()
        self.on = as_json or out.isatty()

    def __call__(self, n: int, tape_t: float, final: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not final and now - self.last < self.every):
            return
        self.last = now
        rate = n / max(now - self.t0, 1e-9)
        eta = (self.total - n) / rate if self.total and rate else None
        if self.as_json:
            row = {"frames": n, "tape_s": round(tape_t, 3), "per_second": round(rate), "eta_s": eta}
            print(json.dumps(row), file=self.out, flush=True)
        else:
            left = f"  ETA {eta:.0f}s" if eta is not None else ""
            end = "\n" if final else ""
            print(f"\r{n:>10} lines  tape {tape_t:>9.1f}s  {rate:>10,.0f}/s{left}   ", end=end, file=self.out)


# -- commands ----------------------------------------------------------------------------------------


def scan(command: str, path: Path, progress: bool, as_json: bool) -> tuple[Tape, dict[str, Any]] | None:
    """Read a whole tape once, checking every line, and summarise it; None after printing its problem."""
    rec = Tape.open(path)
    show = Progress(sys.stderr, rec.index.lines if rec.index else None, as_json and progress)
    show.on = show.on and progress
    got = survey(rec, show, ahead=ahead)
    show(got.lines, got.t, final=True)
    summary: dict[str, Any] = {
        "recording": str(rec.path),
        "ws_file": rec.ws_path.name,
        "env": rec.env,
        "synthetic": rec.synthetic,
        "start": rec.session["start"],
        **got.summary(),
        "rest_interactions": len(rec.rest),
        "indexed": rec.index is not None,
    }
    if rec.ended is not None:
        summary["ends_early"] = {
            "after_line": rec.ended.line,
            "byte_offset": rec.ended.offset,
            "why": rec.ended.reason + " (the recorder did not finish; valid up to here)",
        }
    return rec, summary


def index(args: argparse.Namespace) -> int:
    from fakekis.exchange.warm import IndexFold  # the market state for `serve --from`

    rec = Tape.open(args.recording, use_index=False)
    idx = rec.build_index(fold=IndexFold())
    if rec.ended is not None:  # an unfinished recording: indexed up to where it is valid
        _say("index", f"note: {rec.ws_path} ends after line {rec.ended.line}: {rec.ended.reason}")
    out = rec.path / INDEX_NAME
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(json.dumps(idx.to_json(), ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)
    print(
        json.dumps({"index": str(out), "lines": idx.lines, "frames": idx.frames, "blocks": len(idx.blocks)})
    )
    return 0


def _lines_of_slice(rec: Tape, w: tape.Window) -> Iterator[tape.WsLine]:
    """The window's lines, t shifted to start at 0; before it, the session state it needs at t=0: opens,
    subscribe requests and their acks (only those of `w.symbols`, if given)."""
    syms = w.symbols
    for _, ln in rec.lines():  # from the top: the opens and acks before the window are needed
        if ln.t > w.until:
            return
        text = ln.text or ""
        key = _key_of(text)
        if syms is not None and key is not None and key not in syms:
            continue
        if ln.t >= w.start:
            yield _shift(ln, ln.t - w.start)
        elif ln.event == "open" or (ln.dir == "send" and key is not None) or _is_ack(text):
            yield _shift(ln, 0.0)


def _shift(ln: tape.WsLine, t: float) -> tape.WsLine:
    return tape.WsLine(round(t, 6), ln.dir, ln.text, ln.conn, ln.event, ln.code, ln.reason)


def _key_of(text: str) -> str | None:
    """The symbol (tr_key) a data frame, a subscribe request or an ack is about."""
    if text[:2] == "0|":
        parts = frames.split_frame(text)
        return parts[3].split("^", 1)[0] if parts else None
    if text.startswith("{") and '"tr_key"' in text:
        try:
            obj = json.loads(text)
            body = obj.get("body", {})
            key = (body.get("input") or {}).get("tr_key") or obj.get("header", {}).get("tr_key")
            return str(key) if key else None
        except (ValueError, AttributeError):
            return None
    return None


def _is_ack(text: str) -> bool:
    return text.startswith("{") and '"PINGPONG"' not in text[:60] and '"rt_cd"' in text


def slice_(args: argparse.Namespace) -> int:
    from fakekis.exchange.warm import IndexFold  # the market state for `serve --from`

    rec = Tape.open(args.recording)
    w = window(args, rec)
    end = rec.index.end_t if rec.index else None
    if end is None:
        end = max((ln.t for _, ln in rec.lines()), default=0.0)
    if w.start > end or w.until < w.start or w.until < 0:
        _say(
            "slice",
            f"{rec.ws_path}: --from/--until window {w.start:.3f}s..{w.until:.3f}s is outside the tape "
            f"(0s..{end:.3f}s, from {rec.session['start']})",
        )
        return 2
    # The slice's start, to the microsecond (what session.json can say); every t moves by exactly that.
    new_start = round(rec.start + w.start, 6)
    shift = new_start - rec.start
    w = tape.Window(shift, w.until, w.symbols)
    session = dict(rec.session)
    session["start"] = datetime.fromtimestamp(new_start, KST).isoformat(timespec="microseconds")
    if w.symbols is not None:
        session["subscriptions"] = [[tr, k] for tr, k in rec.subscriptions if k in w.symbols]
    session["notes"] = f"slice of {rec.path.name} from +{w.start:.3f}s; {rec.notes}"[:2000]
    rest = []
    for it in rec.rest:
        t = float(it.get("t", 0))  # type: ignore[arg-type]
        path = str(it["request"]["uri"])  # type: ignore[index]
        if w.start <= t <= w.until or (t < w.start and any(p in path for p in _AUTH_PATHS)):
            rest.append({**it, "t": round(max(0.0, t - w.start), 6)})
    tape.write(args.out, session, _lines_of_slice(rec, w), rest, ws_name=_ws_name(args), fold=IndexFold())
    print(json.dumps({"out": str(args.out), "from_s": w.start, "until_s": min(w.until, end)}))
    return 0


def _ws_name(args: argparse.Namespace) -> str:
    return {"zst": "ws.jsonl.zst", "gz": "ws.jsonl.gz", "none": "ws.jsonl"}[args.compress]


def merge(args: argparse.Namespace) -> int:
    from fakekis.exchange.warm import IndexFold  # the market state for `serve --from`

    tapes = [Tape.open(p) for p in args.recordings]
    envs = {t.env for t in tapes}
    if len(envs) > 1:
        _say("merge", f"RECORDINGS: environments differ ({', '.join(sorted(envs))}); merge one environment's")
        return 2
    first = min(t.start for t in tapes)  # each start is whole microseconds: the shifts are exact
    streams = []
    base = 0
    for t in tapes:
        streams.append(_merge_stream(t, t.start - first, base))
        base += 1 + max(_conns(t), default=0)
    subs: dict[tuple[str, str], None] = {}
    products: dict[str, object] = {}
    rest: list[dict[str, object]] = []
    for t in tapes:
        subs.update(dict.fromkeys(t.subscriptions))
        products.update(t.products)
        shift = t.start - first
        rest += [{**it, "t": round(float(it.get("t", 0)) + shift, 6)} for it in t.rest]  # type: ignore[arg-type]
    rest.sort(key=lambda it: float(it["t"]))  # type: ignore[arg-type]
    session = dict(tapes[0].session)
    session.update(
        start=datetime.fromtimestamp(first, KST).isoformat(timespec="microseconds"),
        subscriptions=[list(s) for s in subs],
        synthetic=all(t.synthetic for t in tapes),
        notes="merge of " + ", ".join(t.path.name for t in tapes),
    )
    if products:
        session["products"] = products
    merged = (ln for _, _, ln in heapq.merge(*streams, key=lambda x: (x[0], x[1])))
    tape.write(args.out, session, merged, rest, ws_name=_ws_name(args), fold=IndexFold())
    print(json.dumps({"out": str(args.out), "inputs": len(tapes)}))
    return 0


def _conns(t: Tape) -> Iterator[int]:
    for _, ln in t.lines():
        yield ln.conn


def _merge_stream(t: Tape, shift: float, base: int) -> Iterator[tuple[float, int, tape.WsLine]]:
    for _, ln in t.lines():
        at = round(ln.t + shift, 6)
        yield (
            at,
            base,
            tape.WsLine(at, ln.dir, ln.text, ln.conn + base, ln.event, ln.code, ln.reason),
        )
