"""`fakekis index`, `slice`, `merge` and the streamed `validate`/`inspect`, run in-process through the
CLI's `main`: round trips keep every frame, bad input is one line and exit 2 with nothing left behind,
and a replay window starts where it says."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.cli import main
from fakekis.exchange.warm import IndexFold
from fakekis.serve.server import FakeKis
from fakekis.tape import synth
from fakekis.tape.stream import Tape, Window
from kisclock import KST, ManualClock

START = datetime(2026, 11, 25, 9, 5, tzinfo=KST)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    session, lines = synth.generate(START, 2, seed=11)
    # with the market fold, as `fakekis generate` writes it (and `fakekis index` rebuilds it)
    return tape.write(
        tmp_path_factory.mktemp("day") / "zst", session, lines, [], "ws.jsonl.zst", fold=IndexFold()
    )


def _frames(path: Path) -> list[tuple[float, str]]:
    return [(f.t, f.text) for f in Tape.open(path).frames()]


def test_slice_outside_the_tape_is_one_line_and_writes_nothing(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["slice", str(day), str(tmp_path / "out"), "--from", "15:00"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "outside the tape" in err[0] and "ws.jsonl.zst" in err[0]
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(5, 110))
def test_slice_then_merge_gives_back_every_frame(
    day: Path, tmp_path_factory: pytest.TempPathFactory, cut: int
) -> None:
    """Catches a slice that drops the frames at its edges, or a merge that misplaces a part in time."""
    tmp = tmp_path_factory.mktemp("cut")
    everything = _frames(day)
    at = next(t for t, _ in everything if t > cut)  # a frame time: the cut falls just before it
    edge = round(at - 0.0005, 4)
    assert main(["slice", str(day), str(tmp / "a"), "--until", f"+{edge}"]) == 0
    assert main(["slice", str(day), str(tmp / "b"), "--from", f"+{edge}", "--compress", "gz"]) == 0
    assert main(["merge", str(tmp / "m"), str(tmp / "a"), str(tmp / "b"), "--compress", "zst"]) == 0
    b = Tape.open(tmp / "b")
    assert b.start == pytest.approx(Tape.open(day).start + edge)
    assert [round(t, 3) for t, _ in _frames(tmp / "m")] == [round(t, 3) for t, _ in everything]
    assert [x for _, x in _frames(tmp / "m")] == [x for _, x in everything]
    assert main(["validate", str(tmp / "m")]) == 0


def test_slice_carries_the_subscriptions_of_its_symbols(day: Path, tmp_path: Path) -> None:
    """A window cut from mid-session still holds the open, the subscribe and the ack its client needs."""
    assert main(["slice", str(day), str(tmp_path / "s"), "--from", "09:06", "--symbols", "000660"]) == 0
    rec = tape.load(tmp_path / "s")
    assert rec.subscriptions == [("H0STCNT0", "000660"), ("H0STASP0", "000660")]
    head = [ln for ln in rec.lines if ln.t == 0.0]
    assert head[0].event == "open"
    sent = [ln.text for ln in head if ln.dir == "send"]
    assert len(sent) == 2 and all("000660" in (s or "") for s in sent)
    assert {f.tr_key for f in rec.data_frames()} == {"000660"}


def test_validate_truncated_zst_is_one_line_with_the_byte(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "session.json").write_bytes((day / "session.json").read_bytes())
    data = (day / "ws.jsonl.zst").read_bytes()
    (cut / "ws.jsonl.zst").write_bytes(data[:-50])
    assert main(["validate", str(cut)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ws.jsonl.zst: byte" in err[0] and "ends inside" in err[0]


def test_validate_says_where_an_unfinished_recording_ends(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    session = json.loads((day / "session.json").read_text())
    session["recorder"] = {"tool": "fakekis record", "complete": False}
    (cut / "session.json").write_text(json.dumps(session))
    data = (day / "ws.jsonl.zst").read_bytes()
    (cut / "ws.jsonl.zst").write_bytes(data[:-50])
    # Valid up to the cut, but not to be relied on: exit 1 with the recorder's warning (docs/cli.md)
    assert main(["validate", str(cut)]) == 1
    got = capsys.readouterr()
    assert "warning" in got.err and "recorder.complete is not true" in got.err
    out = json.loads(got.out)
    # One frame here, cut near its end: the lines decoded before the cut count, the report names the
    # frame (byte 0) and the last whole line.
    assert out["ends_early"]["byte_offset"] == 0 and out["ends_early"]["after_line"] == out["ws_lines"] > 100
    assert "valid up to here" in out["ends_early"]["why"]


def test_index_rebuild_and_mismatch(day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`fakekis index` writes what the writer wrote; an index left from another tape is refused by name."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in day.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    written = json.loads((copy / "ws.index.json").read_text())
    (copy / "ws.index.json").unlink()
    assert main(["index", str(copy)]) == 0
    assert json.loads((copy / "ws.index.json").read_text()) == written
    with (copy / "ws.jsonl.zst").open("ab") as fh:  # the tape changes under its index
        fh.write(b"\x00")
    capsys.readouterr()
    assert main(["validate", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ws.index.json: does not match its tape" in err[0]


def test_validate_json_progress(day: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(day), "--json"]) == 0
    got = capsys.readouterr()
    rows = [json.loads(x) for x in got.err.splitlines()]
    assert rows and rows[-1]["frames"] == json.loads(got.out)["ws_lines"] and "eta_s" in rows[-1]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_window_replays_from_its_start(day: Path, anyio_backend: str) -> None:
    """Catches --from replaying from the top, or a clock that starts at the tape's start."""
    rec = Tape.open(day)
    start, until = 50.0, 80.0
    clock = ManualClock(rec.start)
    kis = FakeKis(
        rec, speed=1.0, clock=clock, start_on="manual", window=Window(start, until, frozenset({"005930"}))
    )
    sent: list[float] = []
    emit = kis._emit

    async def spy(frame: tape.TapeFrame) -> None:
        sent.append(frame.t)
        await emit(frame)

    kis.player.emit = spy
    await kis.start()
    try:
        assert kis.player.market_now() == rec.start + start
        kis.player.start()
        clock.advance(until - start + 1)
        await asyncio.wait_for(kis.player.done.wait(), 10)
    finally:
        await kis.stop()
    want = [f.t for f in rec.frames() if start <= f.t <= until and f.tr_key == "005930"]
    assert sent == want and sent[0] >= start
