"""The replay's chunk path (`fastline.FRAME_HEAD` in `framescan.scan`, under `Tape.frames`) against the per-line path it
replaced (`fast_split`, else the full parse): on generated tapes full of near-miss lines, both must yield
exactly the same frames, stop at the same place and raise the same error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.tape import framescan
from fakekis.tape.format import TapeFrame
from fakekis.tape.stream import Tape

NEVER = re.compile(r"(?!)")  # matches nothing: every line takes the per-line path

# pieces of a text that sit on the edges of the fast shape: separators, escapes, quotes, controls, non-ASCII
TEXT_BITS = [
    "H0STCNT0",
    "005930",
    "005930",
    "|",
    "^",
    "001",
    "002",
    "²",
    "\\u0030",
    '\\"',
    '"',
    "\t",
    "é",
    "9",
]
ODD_T = ["0", "01", ".5", "3.", "1e0", "99999999", "0.75", "-1", "1.25"]


@st.composite
def lines(draw: st.DrawFn, i: int) -> bytes:
    """Line `i` of a tape: mostly in time order (t near i/4), sometimes an odd or earlier t."""
    kind = draw(st.sampled_from(["frame"] * 6 + ["conn", "odd"]))
    t = draw(st.sampled_from([f"{i // 4}", f"{i / 4:g}"] * 4) | st.sampled_from(ODD_T))
    parts = [draw(st.lists(st.sampled_from(TEXT_BITS), max_size=3)) for _ in range(4)]
    sep = draw(st.sampled_from(["|", "|", "|", "^"]))
    text = (
        "0|" + "".join(parts[0]) + sep + "".join(parts[1]) + "|" + "".join(parts[2]) + "^" + "".join(parts[3])
    )
    if kind == "frame":
        return f'{{"t":{t},"dir":"recv","text":"{text}"}}'.encode()
    if kind == "conn":
        conn = draw(st.sampled_from(["1", "1", "01", "x"]))
        return f'{{"t":{t},"dir":"recv","text":"{text}","conn":{conn}}}'.encode()
    return draw(
        st.sampled_from(
            [
                b"",
                b"   ",
                b'{"t":0.1,"event":"open"}',
                b'{"t":0.2,"dir":"send","text":"{\\"header\\":{}}"}',
                b'{"t":0.3,"dir":"recv","text":"0|H0STCNT0|001|\xff"}',  # not UTF-8
                b'{"t":0.4,"dir":"recv","text":"0|H0STCNT0|001|005930"}\r',
                b'{"dir":"recv","t":0.5,"text":"0|H0STCNT0|001|005930"}',
                b'x{"t":0.6,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
            ]
        )
    )


def _read(root: Path, start: float, until: float, symbols: set[str] | None) -> tuple[list[TapeFrame], str]:
    got: list[TapeFrame] = []
    try:
        for f in Tape.open(root).frames(start, until, symbols):
            got.append(f)
    except tape.RecordingError as e:
        return got, str(e)
    return got, ""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.integers(0, 25).flatmap(lambda n: st.tuples(*(lines(i) for i in range(n)))).map(list),
    newline_at_end=st.booleans(),
    start=st.sampled_from([0.0, 1.0, 2.0]),
    until=st.sampled_from([float("inf"), 4.0, 1.5]),
    symbols=st.sampled_from([None, {"005930"}, {"005930", ""}, {"H0STCNT0005930"}]),
)
@example(  # an escape after the key: the JSON parse reads it, so the chunk path must not take the line
    body=[b'{"t":1,"dir":"recv","text":"0|H0STCNT0|001|005930^\\u0030"}'],
    newline_at_end=True,
    start=0.0,
    until=float("inf"),
    symbols=None,
)
def test_chunk_path_yields_what_the_per_line_path_yields(
    tmp_path: Path,
    body: list[bytes],
    newline_at_end: bool,
    start: float,
    until: float,
    symbols: set[str] | None,
) -> None:
    root = tmp_path / "gen"
    root.mkdir(exist_ok=True)
    session = {"format": tape.FORMAT, "version": 1, "env": "mock", "start": "2026-11-25T09:05:00+09:00"}
    session |= {"subscriptions": [], "synthetic": True}
    (root / "session.json").write_text(json.dumps(session))
    (root / "ws.jsonl").write_bytes(b"\n".join(body) + (b"\n" if newline_at_end and body else b""))
    fast = _read(root, start, until, symbols)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(framescan, "FRAME_HEAD", NEVER)
        slow = _read(root, start, until, symbols)
    assert fast == slow


def test_writer_lines_take_the_chunk_path(tmp_path: Path) -> None:
    """Catches a FRAME_HEAD that silently matches nothing (the test above would still pass): the writers'
    lines must be read by it, so with the per-line path broken they still come out."""
    root = tmp_path / "w"
    root.mkdir()
    session = {"format": tape.FORMAT, "version": 1, "env": "mock", "start": "2026-11-25T09:05:00+09:00"}
    session |= {"subscriptions": [], "synthetic": True}
    (root / "session.json").write_text(json.dumps(session))
    text = "0|H0STCNT0|002|005930^1^2^005930^3^4"
    (root / "ws.jsonl").write_text(
        json.dumps({"t": 1.5, "dir": "recv", "text": text}, separators=(",", ":")) + "\n"
    )

    def boom(raw: bytes) -> None:
        raise AssertionError(f"per-line path taken for {raw!r}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(framescan, "fast_split", boom)
        got = list(Tape.open(root).frames())
    assert got == [TapeFrame(1.5, "H0STCNT0", "005930", 2, text, 1)]
