"""`fakekis validate`'s pass (tape/survey.py): the chunk-at-a-time fast path (tape/fastchunk.py, numpy) must
give the verdict, the first error and the counts that checking each line the exact way gives, on tapes
with odd lines and injected defects, in any chunking; and `fastchunk.analyse` must never pass a line that
the full JSON check would refuse or read differently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.cli.ahead import ahead
from fakekis.tape import fastchunk
from fakekis.tape.reader import _ws_line
from fakekis.tape.stream import Tape
from fakekis.tape.survey import survey

SESSION = {
    "format": tape.FORMAT,
    "version": 1,
    "env": "mock",
    "start": "2026-11-25T09:05:00+09:00",
    "subscriptions": [],
    "synthetic": True,
}
TRS = ["H0STCNT0", "H0STASP0", "H0NXCNT0"]
KEYS = ["005930", "000660", "Q500001"]
COUNTS = ["001", "001", "001", "002", "003", "000", "1", "x2", "²"]


def _data_line(t: str, tr: str, count: str, key: str, fields: int) -> str:
    payload = "^".join([key, *(str(7 * i) for i in range(fields - 1))])
    return f'{{"t":{t},"dir":"recv","text":"0|{tr}|{count}|{payload}"}}'


# Lines that are valid but not of the fast shape, and lines that are broken: a tape mixes them in.
OTHERS = [
    '{"t":T,"event":"open"}',
    '{"t":T,"event":"close","code":1000,"reason":"bye"}',
    '{"t":T,"dir":"send","text":"{\\"header\\":{\\"tr_id\\":\\"H0STCNT0\\"}}"}',
    '{"t":T,"dir":"recv","text":"{\\"header\\":{\\"tr_id\\":\\"PINGPONG\\"}}"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|002|000660^1^2^000660^3^4","conn":2}',
    '{"t":T,"dir":"recv","text":"1|H0STCNI0|001|c2VjcmV0"}',
    '{"t":T,"dir":"recv","text":"0|broken"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0^x|001|005930^1"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|\\u0030\\u0030\\u0035930^1"}',
    '{"dir":"recv","t":T,"text":"0|H0STCNT0|001|005930^2"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930^é^한"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930^\x7f"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|00593000000000000000000000000000000000000^1"}',
    "",
    "   ",
]
BROKEN = [
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930","extra":1}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930\t^tab"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|00"5930"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|00\\5930"}',
    '{"t":0T,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    '{"t":T.,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    '{"t":99999999,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    '{"t":700000.5,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930"',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930"}}',
    'x{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930\x00"}',
    '{"t":T,"dir":"recv","text":"0|H0STCNT0|001|005930","conn":01}',
    "BACKWARDS",
]


@st.composite
def tapes(draw: st.DrawFn) -> list[bytes]:
    """Data lines in the writers' shape with odd but valid lines among them and, half the time, one defect
    (so that most tapes are read to the end and their counts compared)."""
    n = draw(st.integers(1, 120))
    t = draw(st.integers(0, 10**6))
    out: list[bytes] = []
    for _ in range(n):
        t += draw(st.sampled_from([0, 0, 1, 7, 1000, 123457]))
        ts = (
            f"{t // 10**6}.{t % 10**6:06d}".rstrip("0").rstrip(".") if draw(st.booleans()) else str(t / 10**6)
        )
        if draw(st.integers(0, 4)):
            line = _data_line(
                ts,
                draw(st.sampled_from(TRS)),
                draw(st.sampled_from(COUNTS)),
                draw(st.sampled_from(KEYS)),
                draw(st.integers(1, 9)),
            )
        else:
            line = draw(st.sampled_from(OTHERS)).replace("T", ts)
        out.append(line.encode())
    defect = draw(st.sampled_from(["none", "none", "broken", "broken", "not-utf8"]))
    at = draw(st.integers(0, len(out) - 1))
    t_at = json.loads(out[at])["t"] if out[at].strip() else 0
    if defect == "broken":
        line = draw(st.sampled_from(BROKEN))
        if line == "BACKWARDS":
            line = _data_line(str(max(0.0, t_at - 0.5)), "H0STCNT0", "001", "005930", 3)
        out.insert(at + 1, line.replace("T", str(t_at)).encode())
    elif defect == "not-utf8":
        out[at] = out[at][: len(out[at]) // 2] + b"\xff" + out[at][len(out[at]) // 2 :]
    return out


def _write(root: Path, lines: list[bytes], kind: str, frame_lines: int) -> Path:
    root.mkdir()
    (root / "session.json").write_text(json.dumps(SESSION))
    body = b"".join(ln + b"\n" for ln in lines)
    if kind == "plain":
        (root / "ws.jsonl").write_bytes(body)
    else:  # independent frames of `frame_lines` lines, as the writer makes them
        c = zstandard.ZstdCompressor(level=1)
        frames = [lines[i : i + frame_lines] for i in range(0, len(lines), frame_lines)]
        data = b"".join(c.compress(b"".join(ln + b"\n" for ln in f)) for f in frames)
        (root / "ws.jsonl.zst").write_bytes(data)
    return root


def _outcome(root: Path, **kw: object) -> tuple[str, object]:
    try:
        got = survey(Tape.open(root), **kw)  # type: ignore[arg-type]
    except tape.RecordingError as e:
        return "error", str(e)
    s = got.summary()
    return "ok", (s, list(s["data_frames"].items()), list(s["by_symbol"].items()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=tapes(),
    kind=st.sampled_from(["plain", "zst"]),
    frame_lines=st.integers(1, 50),
    read_size=st.sampled_from([7, 64, 1000, 1 << 20]),
)
def test_fast_and_exact_paths_agree(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], kind: str, frame_lines: int, read_size: int
) -> None:
    """Catches the fast path passing a line the exact check refuses, naming another line or error, or
    counting a frame, a malformed count or a symbol differently, at any chunk boundary."""
    root = _write(tmp_path_factory.mktemp("t") / "rec", lines, kind, frame_lines)
    exact = _outcome(root, fast=False)
    assert _outcome(root, read_size=read_size) == exact
    assert _outcome(root, read_size=read_size, ahead=ahead) == exact


@pytest.mark.parametrize("bad", BROKEN)
@pytest.mark.parametrize("where", [0, 17, 39])
def test_every_defect_is_the_same_error_on_both_paths(tmp_path: Path, bad: str, where: int) -> None:
    """Each kind of defect, first, inside and last in a run of writer-shaped lines: the fast path must
    refuse the line (or its run) and the exact check then names it with the same words."""
    lines = [_data_line(f"{i}.25", "H0STCNT0", "002", "005930", 4).encode() for i in range(40)]
    t = f"{where}.25"
    line = _data_line(f"{where - 0.5}", "H0STCNT0", "001", "005930", 3) if bad == "BACKWARDS" else bad
    lines.insert(where + 1, line.replace("T", t).encode())
    root = _write(tmp_path / "rec", lines, "plain", 10)
    exact = _outcome(root, fast=False)
    assert exact[0] == "error"
    assert _outcome(root) == exact


def test_the_fast_path_takes_the_writers_lines(tmp_path: Path) -> None:
    """Catches a fast path that passes nothing (every line falling back to the exact check)."""
    lines = [_data_line(f"{i}.5", "H0STCNT0", "002", "005930", 6).encode() for i in range(200)]
    c = fastchunk.analyse(b"".join(ln + b"\n" for ln in lines))
    assert c.ok.all() and not c.single.any()
    assert c.t_us.tolist() == [i * 10**6 + 500_000 for i in range(200)]
    assert set(c.head_arr.tolist()) == {b"H0STCNT0|002|005930"}


_ALPHABET = st.sampled_from(
    [
        b'"',
        b"\\",
        b"\t",
        b"\x00",
        b"\n",
        b"^",
        b"|",
        b",",
        b".",
        b"0",
        b"9",
        b"e",
        b"-",
        b"{",
        b"}",
        b"\xff",
        b" ",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from(
        [
            _data_line("12.25", "H0STCNT0", "001", "005930", 4),
            _data_line("0", "H0STASP0", "003", "000660", 3),
            _data_line("604800", "H0STCNT0", "001", "005930", 1),
        ]
    ),
    edits=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 3), _ALPHABET), max_size=3),
)
def test_analyse_never_passes_a_line_the_json_check_refuses(
    base: str, edits: list[tuple[int, int, bytes]]
) -> None:
    """Catches `ok` on a line that is not JSON, not a known shape, or whose t, text or header the full
    parse reads otherwise."""
    line = base.encode()
    for at, cut, b in edits:
        line = line[:at] + b + line[at + cut :]
    line = line.replace(b"\n", b"")
    c = fastchunk.analyse(b'{"t":0,"event":"open"}\n' + line + b"\n")
    if not c.ok[1]:
        return
    parsed = _ws_line(json.loads(line.decode("utf-8")))
    assert not isinstance(parsed, str), parsed
    assert parsed.dir == "recv" and parsed.conn == 0 and parsed.text is not None
    assert parsed.t == float(c.t_text(1)) and int(c.t_us[1]) == round(parsed.t * 10**6)
    parts = parsed.text.split("|", 3)
    assert parts[0] == "0" and len(parts) == 4
    assert bytes(c.head_arr[1]).decode() == f"{parts[1]}|{parts[2]}|{parts[3].split('^', 1)[0]}"
    assert bool(c.single[1]) == (parts[2] == "001")


@pytest.mark.parametrize("odd", [OTHERS[0], OTHERS[3]])
def test_time_going_back_just_after_an_odd_line_is_caught_by_the_fast_path(tmp_path: Path, odd: str) -> None:
    """A run of writer-shaped lines that starts after an odd line must start no earlier than that line:
    catches a fast path that checks time only inside its runs (the exact check sees every line)."""
    lines = [_data_line(f"{i}.25", "H0STCNT0", "001", "005930", 4).encode() for i in range(20)]
    lines.append(odd.replace("T", "30.5").encode())
    lines += [_data_line(f"{i}.75", "H0STCNT0", "001", "005930", 4).encode() for i in range(25, 45)]
    root = _write(tmp_path / "rec", lines, "plain", 10)
    exact = _outcome(root, fast=False)
    assert exact[0] == "error"
    assert _outcome(root) == exact


def test_a_time_past_the_format_limit_is_refused_inside_a_run(tmp_path: Path) -> None:
    """`t` past the format's seven days but in the T grammar, as the last line, so no later line's time
    going back sends the run to the exact check: both paths must refuse it, with the same words."""
    lines = [_data_line(f"{i}.25", "H0STCNT0", "001", "005930", 4).encode() for i in range(20)]
    lines.append(_data_line("700000.5", "H0STCNT0", "001", "005930", 4).encode())
    root = _write(tmp_path / "rec", lines, "plain", 10)
    exact = _outcome(root, fast=False)
    assert exact[0] == "error"
    assert _outcome(root) == exact
