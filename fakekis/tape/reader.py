"""Reading a recording folder (docs/recordings.md): `load` stops at the first problem, `check` collects
them all (what `fakekis validate` prints). Every problem is a `RecordingError` naming the file, the line and
the field. Types and ranges are checked here, once, so nothing downstream (the player's pacing,
`/__fakekis/stats`, `inspect`) meets a NaN, an infinite `t` or a string where a number belongs.

Why over 300 lines: it is the per-field checks of a hand-writable format, each with its own line; they
are the format's contract and read best in one place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from fakekis.tape import compress
from fakekis.tape.format import (
    _CODE,
    _YYYYMMDD,
    FORMAT,
    MAX_T,
    SESSION_KEYS,
    START_RANGE,
    VERSION,
    WS_KEYS,
    Recording,
    RecordingError,
    WsLine,
)
from kisclock import parse_instant

MAX_PROBLEMS = 1000  # `check` stops collecting here: a wrong file can have a problem on every line


class _Stop(Exception):
    """Raised inside the loader once `check` has collected MAX_PROBLEMS."""


class _Problems:
    """Where the loader puts what it finds: raise the first (`load`) or collect them all (`check`)."""

    def __init__(self, collect: bool) -> None:
        self.collect = collect
        self.items: list[RecordingError] = []

    def __call__(self, path: Path, line: int | None, message: str) -> None:
        err = RecordingError(path, line, message)
        if not self.collect:
            raise err
        self.items.append(err)
        if len(self.items) >= MAX_PROBLEMS:
            raise _Stop


def load(path: Path | str) -> Recording:
    """The recording at `path`; raises `RecordingError` at its first problem."""
    rec = _load(Path(path), _Problems(collect=False))
    assert rec is not None  # without collecting, every problem raised
    return rec


def check(path: Path | str) -> tuple[Recording | None, list[RecordingError]]:
    """Every problem of the recording at `path` (up to MAX_PROBLEMS), and the recording when there are
    none. A bad line is skipped and the next one checked, so one run shows all that needs fixing."""
    problems = _Problems(collect=True)
    try:
        rec = _load(Path(path), problems)
    except _Stop:
        rec = None
    return (rec if not problems.items else None), problems.items


def _load(root: Path, problem: _Problems) -> Recording | None:
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        problem(
            root, None, f"not a recording folder ({what}; expected a folder with session.json and ws.jsonl)"
        )
        return None
    meta = _load_session(root / "session.json", problem)
    found = compress.find_ws(root)
    if len(found) > 1:
        problem(root, None, f"holds {' and '.join(p.name for p in found)}; keep one ws file")
    lines = _load_ws(found[0] if found else root / "ws.jsonl", problem)
    rest = _load_rest(root / "rest.yaml", problem)
    if meta is None or lines is None or rest is None:
        return None
    data, start = meta
    rec = Recording(
        path=root,
        env=data["env"],
        start=start,
        subscriptions=[(a, b) for a, b in data["subscriptions"]],
        synthetic=data["synthetic"],
        notes=data.get("notes", ""),
        session=data,
        lines=lines,
        rest=rest,
    )
    rec.skipped_encrypted = sum(
        1 for ln in lines if ln.dir == "recv" and ln.text and ln.text.startswith("1|")
    )
    return rec


def _read_text(path: Path, problem: _Problems) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        problem(path, None, f"not UTF-8 ({e.reason} at byte {e.start})")
    except OSError as e:
        problem(path, None, f"cannot read: {e.strerror or e}")
    return None


def _line_of(text: str, key: str) -> int:
    """The line of session.json where `key` is set (a top-level key sits at the start of its line)."""
    found = re.search(rf'^\s*"{re.escape(key)}"\s*:', text, re.MULTILINE) or re.search(
        rf'"{re.escape(key)}"', text
    )
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _load_session(path: Path, problem: _Problems) -> tuple[dict[str, Any], float] | None:
    if not path.is_file():
        problem(path, None, "missing (every recording needs session.json)")
        return None
    text = _read_text(path, problem)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        problem(path, e.lineno, f"invalid JSON: {e.msg}")
        return None
    if not isinstance(data, dict):
        problem(path, 1, "must be a JSON object")
        return None
    found = len(problem.items)

    def need(key: str, ok: bool, what: str) -> None:
        if not ok:
            problem(path, _line_of(text, key), f'field "{key}" {what} (got {data.get(key)!r:.80})')

    for key in data:
        if key not in SESSION_KEYS and not key.startswith("x-"):
            problem(
                path,
                _line_of(text, key),
                f'unknown field "{key}" (known: {", ".join(SESSION_KEYS)}; '
                'free-form extensions start with "x-")',
            )
    need("format", data.get("format") == FORMAT, f'must be "{FORMAT}"')
    need("version", type(data.get("version")) is int and data["version"] == VERSION, f"must be {VERSION}")
    need("env", data.get("env") in ("live", "mock"), 'must be "live" or "mock"')
    start = 0.0
    if not isinstance(data.get("start"), str):
        need("start", False, "must be an ISO-8601 instant with offset, e.g. 2026-11-25T09:05:00+09:00")
    else:
        try:
            start = parse_instant(data["start"])
        except ValueError as e:
            problem(path, _line_of(text, "start"), f'field "start": {e}')
        else:
            need("start", START_RANGE[0] <= start < START_RANGE[1], "must lie between 1990 and 2099")
    subs = data.get("subscriptions")
    need(
        "subscriptions",
        isinstance(subs, list)
        and all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) and x for x in s) for s in subs
        ),
        'must be a list of ["TR_ID", "TR_KEY"] pairs of non-empty strings',
    )
    need("synthetic", isinstance(data.get("synthetic"), bool), "must be true or false")
    need("notes", isinstance(data.get("notes", ""), str), "must be a string")
    products = data.get("products", {})
    need(
        "products",
        isinstance(products, dict)
        and all(
            isinstance(code, str)
            and _CODE.fullmatch(code)
            and isinstance(info, dict)
            and isinstance(info.get("name"), str)
            and info["name"]
            and isinstance(info.get("name_eng", ""), str)
            and (
                "listed" not in info
                or (isinstance(info["listed"], str) and _YYYYMMDD.fullmatch(info["listed"]))
            )
            for code, info in products.items()
        ),
        'must map 6-digit codes to {"name": ..., "name_eng": ..., "listed": "YYYYMMDD"} (name required)',
    )
    for key in ("generator", "recorder"):
        need(key, isinstance(data.get(key, {}), dict), "must be a JSON object")
    for key, value in data.items():
        need(key, _finite(value), "holds NaN or Infinity, which JSON does not allow")
    if len(problem.items) > found:
        return None
    return data, start


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _load_ws(path: Path, problem: _Problems) -> list[WsLine] | None:
    if not path.is_file():
        problem(path, None, "missing (every recording needs ws.jsonl, ws.jsonl.zst or ws.jsonl.gz)")
        return None
    out: list[WsLine] = []
    found = len(problem.items)
    last_t, last_no = 0.0, 0
    try:
        fh = _raw_lines(path)
        for no, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                problem(path, no, f"not UTF-8 at byte {e.start}")
                continue
            if not text.strip():
                continue
            try:
                obj = json.loads(text)  # takes NaN and Infinity: the range checks below refuse them
            except json.JSONDecodeError as e:
                problem(path, no, f"invalid JSON: {e.msg} (column {e.colno})")
                continue
            line = _ws_line(obj)
            if isinstance(line, str):
                problem(path, no, line)
                continue
            if line.t < last_t:
                # Go on from this line's t: one stray line is one or two problems, not one per line after it.
                problem(
                    path,
                    no,
                    f'field "t" goes backwards ({line.t} after {last_t} on line {last_no}); t never decreases',
                )
            last_t, last_no = line.t, no
            out.append(line)
    except OSError as e:
        problem(path, None, f"cannot read: {e.strerror or e}")
        return None
    except compress.TapeDamage as e:
        problem(path, None, str(e))
    return out if len(problem.items) == found else None


def _raw_lines(path: Path) -> Iterator[bytes]:
    """The file's lines (decompressed by its extension; its later parts too, when rotated), each with its
    newline as read."""
    carry = b""
    for part in compress.parts_of(path):
        for _, data in compress.chunks(part):
            parts = (carry + data).split(b"\n")
            carry = parts.pop()
            for raw in parts:
                yield raw + b"\n"
    if carry:
        yield carry


def _ws_line(obj: object) -> WsLine | str:
    """One ws.jsonl object as a WsLine, or the message saying what is wrong with it."""
    if not isinstance(obj, dict):
        return "each line must be a JSON object"
    if not obj.keys() <= WS_KEYS:
        extra = sorted(k for k in obj if k not in WS_KEYS)[0]
        return f'unknown field "{extra}" (known: t, dir, text, conn, event, code, reason)'
    t = obj.get("t")
    # Chained comparisons are False for NaN, and exact for ints of any size (no float overflow).
    if not ((type(t) is float or type(t) is int) and 0 <= t <= MAX_T):
        return f'field "t" must be a number of seconds from 0 to {MAX_T:.0f} (got {t!r:.40})'
    conn = obj.get("conn", 0)
    if type(conn) is not int or conn < 0:
        return f'field "conn" must be an integer >= 0 (got {conn!r:.40})'
    if "event" in obj:
        event, code, reason = obj["event"], obj.get("code"), obj.get("reason")
        if event not in ("open", "close"):
            return f'field "event" must be "open" or "close" (got {event!r:.40})'
        if code is not None and (type(code) is not int or not 1000 <= code <= 4999):
            return f'field "code" must be a WebSocket close code, 1000 to 4999 (got {code!r:.40})'
        if reason is not None and not isinstance(reason, str):
            return f'field "reason" must be a string (got {type(reason).__name__})'
        return WsLine(float(t), conn=conn, event=event, code=code, reason=reason)
    d, text = obj.get("dir"), obj.get("text")
    if d not in ("recv", "send"):
        return f'field "dir" must be "recv" or "send" (got {d!r:.40})'
    if not isinstance(text, str):
        return f'field "text" must be a string (got {type(text).__name__})'
    return WsLine(float(t), d, text, conn)


def _load_rest(path: Path, problem: _Problems) -> list[dict[str, object]] | None:
    if not path.exists():
        return []
    if not path.is_file():
        problem(path, None, "must be a file (the optional vcrpy cassette)")
        return None
    text = _read_text(path, problem)
    if text is None:
        return None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem(path, mark.line + 1 if mark else None, f"invalid YAML: {getattr(e, 'problem', e)}")
        return None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        problem(path, 1, 'must be a vcrpy cassette: a mapping with an "interactions" list')
        return None
    found = len(problem.items)
    interactions: list[dict[str, object]] = []
    for i, it in enumerate(doc["interactions"]):
        ok = (
            isinstance(it, dict)
            and isinstance(it.get("request"), dict)
            and isinstance(it.get("response"), dict)
            and isinstance(it["request"].get("uri"), str)
            and isinstance(it["request"].get("method"), str)
            and isinstance(it["response"].get("status"), dict)
            and type(it["response"]["status"].get("code")) is int
            and 100 <= it["response"]["status"]["code"] <= 599
        )
        if not ok:
            problem(
                path,
                None,
                f"interaction #{i} needs request.method and request.uri (strings) and "
                "response.status.code (an HTTP status, 100 to 599)",
            )
        else:
            t = it.get("t", 0)
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < float("inf"):
                problem(path, None, f'interaction #{i}: "t" must be seconds >= 0 (got {t!r})')
            else:
                interactions.append(it)
    return interactions if len(problem.items) == found else None
