"""The recording loader: round trip, and every kind of damage becomes one line naming file and line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import kst, trade, write_recording
from fakekis import tape
from fakekis.tape import format as tape_format
from fakekis.tape import reader
from fakekis.tape.inspect import inspect_recording
from fakekis.wire import frames

START = kst(2026, 11, 25, 9, 5)
ROOT = Path(__file__).resolve().parents[2]


def _good(tmp: Path) -> Path:
    return write_recording(
        tmp / "rec",
        START,
        [
            (0.5, frames.data_frame("H0STCNT0", [trade("005930", "090500", 71_100, 71_000, 10)])),
            (1.0, '{"header":{"tr_id":"PINGPONG","datetime":"20261125090501"}}'),
            (1.5, "1|H0STCNI9|001|abcd"),
        ],
    )


def test_round_trip(tmp_path: Path) -> None:
    rec = tape.load(_good(tmp_path))
    assert rec.env == "mock" and rec.start == START and rec.subscriptions == [("H0STCNT0", "005930")]
    assert [f.tr_key for f in rec.data_frames()] == ["005930"] and rec.skipped_encrypted == 1
    copy = tape.write(tmp_path / "copy", rec.session, rec.lines)
    again = tape.load(copy)
    assert again.lines == rec.lines and again.session == rec.session


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "invalid JSON"),
        ('{"t": -1, "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": 0.1, "dir": "recv", "text": "x"}', "goes backwards"),
        ('{"t": 9, "dir": "up", "text": "x"}', 'field "dir"'),
        ('{"t": 9, "dir": "recv", "text": 5}', 'field "text"'),
        ('{"t": 9, "event": "boom"}', 'field "event"'),
        ('{"t": 9, "dir": "recv", "text": "x", "conn": -2}', 'field "conn"'),
        ("[1, 2]", "JSON object"),
        # issue #12: what json.loads takes but nothing downstream can serve
        ('{"t": NaN, "dir": "recv", "text": "x"}', 'field "t" must be a number of seconds from 0 to 604800'),
        ('{"t": Infinity, "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": 1e999, "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": ' + "9" * 400 + ', "dir": "recv", "text": "x"}', 'field "t"'),  # float() would overflow
        ('{"t": 604801, "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": "9", "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": true, "dir": "recv", "text": "x"}', 'field "t"'),
        ('{"t": 9, "dir": "recv", "text": "x", "conn": 1.0}', 'field "conn"'),
        ('{"t": 9, "event": "close", "code": "1000"}', 'field "code" must be a WebSocket close code'),
        ('{"t": 9, "event": "close", "code": 999}', 'field "code"'),
        ('{"t": 9, "event": "close", "code": 5000}', 'field "code"'),
        ('{"t": 9, "event": "close", "reason": 5}', 'field "reason"'),
        ('{"t": 9, "dir": "recv", "text": "x", "txt": "y"}', 'unknown field "txt"'),
    ],
)
def test_bad_tape_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    root = _good(tmp_path)
    with (root / "ws.jsonl").open("a") as fh:
        fh.write(line + "\n")
    with pytest.raises(tape.RecordingError) as err:
        tape.load(root)
    assert str(err.value).startswith(f"{root / 'ws.jsonl'}:4: ") and message in str(err.value)


def test_invalid_utf8_and_truncation(tmp_path: Path) -> None:
    root = _good(tmp_path)
    with (root / "ws.jsonl").open("ab") as fh:
        fh.write(b'{"t": 9, "dir": "recv", "text": "\xff\xfe"}\n')
    with pytest.raises(tape.RecordingError, match=r"ws.jsonl:4: not UTF-8"):
        tape.load(root)
    root2 = _good(tmp_path / "b")
    data = (root2 / "ws.jsonl").read_bytes()
    (root2 / "ws.jsonl").write_bytes(data[:-20])  # cut mid-line, as a crashed recorder would
    with pytest.raises(tape.RecordingError, match=r"ws.jsonl:3: invalid JSON"):
        tape.load(root2)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("format", "other", 'field "format"'),
        ("version", 2, 'field "version"'),
        ("env", "prod", 'field "env"'),
        ("start", "2026-11-25T09:05:00", "no UTC offset"),
        ("subscriptions", [["H0STCNT0"]], 'field "subscriptions"'),
        ("synthetic", "yes", 'field "synthetic"'),
        ("products", {"5930": {"name": "x"}}, 'field "products"'),
        ("products", {"005930": {"name_eng": "no name"}}, 'field "products"'),
        ("products", {"005930": {"name": "삼성전자", "listed": 19750611}}, 'field "products"'),
        # issue #12: wrong types that compared equal, ranges, unknown keys, NaN
        ("version", True, 'field "version" must be 1'),
        ("version", 1.0, 'field "version" must be 1'),
        ("start", "1900-01-01T09:00:00+09:00", "between 1990 and 2099"),
        ("start", 20261125, 'field "start"'),
        ("subscriptions", [["H0STCNT0", ""]], 'field "subscriptions"'),
        ("notes", ["a"], 'field "notes"'),
        ("products", {"005930\n": {"name": "x"}}, 'field "products"'),
        ("products", {"00593²": {"name": "x"}}, 'field "products"'),
        ("products", {"005930": {"name": "x", "listed": "1975-06-11"}}, 'field "products"'),
        ("generator", "fakekis", 'field "generator" must be a JSON object'),
        ("recorder", [], 'field "recorder"'),
        ("generator", {"minutes": float("nan")}, "NaN or Infinity"),
        ("note", "a misspelt notes", 'unknown field "note"'),
    ],
)
def test_bad_session_json(tmp_path: Path, key: str, value: object, message: str) -> None:
    root = _good(tmp_path)
    data = json.loads((root / "session.json").read_text())
    data[key] = value
    (root / "session.json").write_text(json.dumps(data, indent=2))
    with pytest.raises(tape.RecordingError) as err:
        tape.load(root)
    assert str(err.value).startswith(str(root / "session.json") + ":") and message in str(err.value)


def test_extension_keys_are_kept(tmp_path: Path) -> None:
    root = _good(tmp_path)
    data = json.loads((root / "session.json").read_text())
    data["x-desk"] = {"team": "equities"}
    (root / "session.json").write_text(json.dumps(data))
    assert tape.load(root).session["x-desk"] == {"team": "equities"}


def test_check_reports_every_problem_and_a_stray_line_once(tmp_path: Path) -> None:
    root = _good(tmp_path)
    with (root / "ws.jsonl").open("a") as fh:
        fh.write('{"t": 2, "dir": "recv", "text": "a"}\n')
        fh.write('{"t": 99, "dir": "recv", "text": "stray"}\n')  # line 5: one line far ahead...
        for t in range(3, 9):  # ...is one problem, naming it, not one per line after it
            fh.write(f'{{"t": {t}, "dir": "recv", "text": "a"}}\n')
        fh.write('{"t": NaN, "dir": "recv", "text": "a"}\n')
    data = json.loads((root / "session.json").read_text())
    data["env"] = "prod"
    (root / "session.json").write_text(json.dumps(data, indent=2))
    rec, problems = tape.check(root)
    assert rec is None
    assert [(Path(p.path).name, p.line) for p in problems] == [
        ("session.json", 4),
        ("ws.jsonl", 6),
        ("ws.jsonl", 12),
    ]
    assert "(3.0 after 99.0 on line 5)" in problems[1].message
    with pytest.raises(tape.RecordingError) as first:
        tape.load(root)
    assert str(first.value) == str(problems[0])
    assert tape.check(_good(tmp_path / "fine"))[1] == []


def test_check_stops_collecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_PROBLEMS", 3)
    root = _good(tmp_path)
    with (root / "ws.jsonl").open("a") as fh:
        fh.write("oops\n" * 10)
    rec, problems = tape.check(root)
    assert rec is None and len(problems) == 3


def test_products_in_session_json(tmp_path: Path) -> None:
    root = _good(tmp_path)
    data = json.loads((root / "session.json").read_text())
    data["products"] = {
        "005930": {"name": "삼성전자", "name_eng": "Samsung Electronics", "listed": "19750611"}
    }
    (root / "session.json").write_text(json.dumps(data, ensure_ascii=False))
    assert tape.load(root).products["005930"]["name"] == "삼성전자"
    assert tape.load(_good(tmp_path / "plain")).products == {}


def test_missing_parts(tmp_path: Path) -> None:
    with pytest.raises(tape.RecordingError, match="not a recording folder"):
        tape.load(tmp_path / "nope")
    root = _good(tmp_path)
    (root / "rest.yaml").write_text("interactions: [ {request: {uri: x}} ]\n")
    with pytest.raises(tape.RecordingError, match=r"rest.yaml: interaction #0"):
        tape.load(root)
    (root / "rest.yaml").write_text("interactions: [\n  : bad\n")
    with pytest.raises(tape.RecordingError, match=r"rest.yaml:\d+: invalid YAML"):
        tape.load(root)
    status = "{request: {method: GET, uri: x}, response: {status: {code: %s}}}"
    (root / "rest.yaml").write_text(f"interactions: [{status % 200}]\n")
    assert len(tape.load(root).rest) == 1
    for code in ("'200'", "42", "null"):
        (root / "rest.yaml").write_text(f"interactions: [{status % code}]\n")
        with pytest.raises(tape.RecordingError, match=r"rest.yaml: interaction #0 .* 100 to 599"):
            tape.load(root)
    (root / "rest.yaml").unlink()
    (root / "rest.yaml").mkdir()
    with pytest.raises(tape.RecordingError, match=r"rest.yaml: must be a file"):
        tape.load(root)


def test_cli_validate_reports_one_line(tmp_path: Path) -> None:
    root = _good(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "fakekis", "validate", str(root)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["data_frames"] == {"H0STCNT0": 1}
    with (root / "ws.jsonl").open("a") as fh:
        fh.write("{oops\n")
    bad = subprocess.run(
        [sys.executable, "-m", "fakekis", "validate", str(root)], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "ws.jsonl:4:" in bad.stderr


def test_bundled_works_from_a_source_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository without installing (`python -m bench...`), `fakekis.recordings` does not exist;
    the benchmark's pacing client crashed on it. The fallback is relative to the module's own file, so the
    module is pointed at this checkout: under tox's `pytest` the imported copy is the installed one, whose
    neighbourhood has no `recordings/` (the test passed under `python -m pytest` only)."""
    monkeypatch.setattr(tape_format, "_installed_recordings", lambda: None)
    monkeypatch.setattr(tape_format, "__file__", str(ROOT / "fakekis" / "tape" / "format.py"))
    assert tape.bundled() == ROOT / "recordings" / tape.DEFAULT_BUNDLED
    assert (tape.bundled() / "session.json").is_file()


def test_bundled_finds_the_installed_recordings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed, the recordings come from the package `fakekis.recordings`; with the package gone, the
    folder beside the sources is used instead, which holds them when the sources are a checkout (editable
    install) and not when they are an installed copy (tox installs the sdist)."""
    installed = tape_format._installed_recordings()
    assert installed is not None and (installed / tape.DEFAULT_BUNDLED / "session.json").is_file()
    assert tape.bundled() == installed / tape.DEFAULT_BUNDLED
    monkeypatch.setattr(tape_format.importlib.util, "find_spec", lambda name: None)
    assert tape_format._installed_recordings() is None
    beside = Path(tape_format.__file__).resolve().parents[2]
    assert tape.bundled() == beside / "recordings" / tape.DEFAULT_BUNDLED
    if (beside / "pyproject.toml").is_file():  # imported from a source checkout
        assert (tape.bundled() / "session.json").is_file()


def test_bundled_does_not_shadow_the_public_name() -> None:
    """The bundled recordings' package used to be called `fakekis.bundled`; importing it set the attribute
    `fakekis.bundled` to the package, so after any `tape.bundled()` call the public `fakekis.bundled` was a
    module, not the function."""
    import fakekis

    tape.bundled()
    assert fakekis.bundled is tape.bundled


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
)
# One field of a good recording set to something odd: random documents alone are refused at the first
# check and never reach the later ones. The odd values are the ones that compare or parse the wrong way.
_ODD: dict[str, list[object]] = {
    "t": [math.nan, math.inf, -1, 2**70, 1e300, "1", True],
    "text": ["0|H0STCNT0|²|x^y", "0|H0STCNT0|٣|a^b^c", "0|H0STCNT0|000|a", "0|", 5],
    "dir": ["up", None, 1],
    "conn": [1.0, -1, True, 2**70, "0"],
    "code": ["1000", 999, 5000, 1.5, True],
    "reason": [5, ["x"]],
    "event": ["boom", None],
    "version": [True, 1.0, "1", 2],
    "start": ["2026-11-25T09:05:00", "1900-01-01T00:00:00+09:00", 0, "9999-12-31T23:59:59+09:00"],
    "subscriptions": [[["H0STCNT0"]], [["H0STCNT0", ""]], "H0STCNT0", [[1, 2]]],
    "products": [{"005930": {"name": 1}}, {"00593²": {"name": "x"}}, {"005930": {"name": "x", "listed": 1}}],
    "generator": [math.nan, "x", {"minutes": math.inf}],
}
_BASE_LINES = [
    {"t": 0.0, "event": "open"},
    {"t": 0.5, "dir": "recv", "text": "0|H0STCNT0|001|005930^090500^71100"},
    {"t": 1.0, "dir": "send", "text": "{}", "conn": 0},
    {"t": 2.0, "event": "close", "code": 1000, "reason": "end"},
]
_LINE_KEYS = sorted(tape_format.WS_KEYS | {"extra"})
_SESSION_KEYS = sorted(set(tape_format.SESSION_KEYS) | {"x", "x-y"})


def _odd_recording(root: Path, in_session: bool, key: str, value: object, at: int, junk: str | None) -> Path:
    session = json.loads((root / "session.json").read_text())
    lines = [dict(x) for x in _BASE_LINES]
    if in_session:
        session[key] = value
    else:
        lines[3 if key in ("code", "reason", "event") else at][key] = value
    (root / "session.json").write_text(json.dumps(session))
    text = "\n".join(json.dumps(x) for x in lines) + "\n" + (junk + "\n" if junk is not None else "")
    (root / "ws.jsonl").write_text(text, encoding="utf-8", errors="surrogatepass")
    return root


def _loads_or_refuses(root: Path) -> None:
    """Loading ends in a Recording or a RecordingError, and what loads is servable: typed and in range,
    data frames split, inspect runs, and its summary is strict JSON (no NaN for /__fakekis/stats)."""
    try:
        rec = tape.load(root)
    except tape.RecordingError as e:
        assert "\n" not in str(e)
        assert tape.check(root)[1]  # check agrees that something is wrong
        return
    assert tape.check(root)[1] == []
    assert type(rec.session["version"]) is int and isinstance(rec.synthetic, bool)
    last = 0.0
    for ln in rec.lines:
        assert type(ln.t) is float and last <= ln.t <= tape.MAX_T and type(ln.conn) is int
        assert ln.code is None or type(ln.code) is int
        last = ln.t
    rec.data_frames()
    json.dumps(inspect_recording(rec), allow_nan=False)


_ODD_CASES = [
    (key in tape_format.SESSION_KEYS, key, value, at)
    for key, values in _ODD.items()
    for value in values
    for at in ((1,) if key in tape_format.SESSION_KEYS else (1, 2, 3))
]


@pytest.mark.parametrize("in_session, key, value, at", _ODD_CASES)
def test_odd_values_load_or_are_refused(
    tmp_path: Path, in_session: bool, key: str, value: object, at: int
) -> None:
    """Issue #12: the values that compare or parse the wrong way ('²'.isdigit(), True == 1, NaN < 0 is
    False, 2**70 overflowing float()), each in turn; nothing crashes and nothing unservable loads."""
    _loads_or_refuses(_odd_recording(_good(tmp_path), in_session, key, value, at, None))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    in_session=st.booleans(),
    line_key=st.sampled_from(_LINE_KEYS),
    session_key=st.sampled_from(_SESSION_KEYS),
    value=_json,
    at=st.integers(1, 3),
    junk=st.none() | st.text(max_size=20),
)
def test_no_input_crashes_the_loader(
    tmp_path: Path,
    in_session: bool,
    line_key: str,
    session_key: str,
    value: object,
    at: int,
    junk: str | None,
) -> None:
    """The same promise for any JSON value in any field, and a line of any text appended."""
    key = session_key if in_session else line_key
    _loads_or_refuses(_odd_recording(_good(tmp_path), in_session, key, value, at, junk))


def test_write_into_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Path(".").with_name(...)` raises ValueError: write('.') was a traceback."""
    rec = tape.load(_good(tmp_path / "src"))
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert tape.write(".", rec.session, rec.lines) == Path(".")
    assert tape.load(here).lines == rec.lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here", "src"]  # nothing left beside it
