"""The recording loader: round trip, and every kind of damage becomes one line naming file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import kst, trade, write_recording
from fakekis import tape
from fakekis.tape import format as tape_format
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
    """Run from the repository without installing (`python -m bench...`), `fakekis.bundled` does not exist;
    the benchmark's pacing client crashed on it. The fallback is relative to the module's own file, so the
    module is pointed at this checkout: under tox's `pytest` the imported copy is the installed one, whose
    neighbourhood has no `recordings/` (the test passed under `python -m pytest` only)."""
    monkeypatch.setattr(tape_format, "_installed_recordings", lambda: None)
    monkeypatch.setattr(tape_format, "__file__", str(ROOT / "fakekis" / "tape" / "format.py"))
    assert tape.bundled() == ROOT / "recordings" / tape.DEFAULT_BUNDLED
    assert (tape.bundled() / "session.json").is_file()


def test_bundled_finds_the_installed_recordings() -> None:
    assert (tape.bundled() / "session.json").is_file()
